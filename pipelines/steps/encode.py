"""``encode``: make one slice from the original file, frame-exact, and prove it is whole."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.ffmpeg import Dialect
from pipelines.probe import ProbeError, probe
from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic, _ffmpeg_run
from pipelines.steps._plan import Plan, SlicePlan, load_plan, slice_path
from pipelines.steps._progress import ProgressReporter
from pipelines.steps.errors import StepError

logger = logging.getLogger(__name__)


def encode_command(
    *,
    source: Path,
    plan: Plan,
    piece: SlicePlan,
    settings: EncodeSettings,
    output: Path,
    dialect: Dialect,
) -> list[str]:
    """ffmpeg arguments (after the global ones) that encode one slice.

    The demuxer starts at ``seek`` (input ``-ss``, at or before the keyframe the slice needs);
    the output ``-ss`` then drops every decoded frame before the slice's first one. With
    ``-copyts`` both the output ``-ss`` and the frames use the source's own clock, so the cut is
    exact on every format; without it ffmpeg rebases an MPEG-TS input to its video start or to
    ``format.start_time`` depending on the seek, and a cut can land one frame off. Then exactly
    ``frames`` frames with their source timestamps (``-fps_mode passthrough``, encoder time
    base = demuxer time base), spelled as the binary's :class:`~pipelines.ffmpeg.Dialect` says.
    """
    threads = str(settings.threads)
    args = ["-xerror", "-copyts", "-threads", threads]
    if piece.seek is not None:
        args += ["-ss", f"{piece.seek:.6f}"]
    args += ["-i", str(source), "-map", f"0:{plan.video_index}"]
    if piece.cut is not None:
        args += ["-ss", f"{piece.cut:.6f}"]
    args += [
        "-frames:v",
        str(piece.frames),
        *dialect.passthrough(),
        *settings.video,
        "-threads",
        threads,
        "-map_metadata",
        "-1",
        "-f",
        "matroska",
        "-y",
        str(output),
    ]
    return args


def count_video_packets(path: Path) -> int:
    """Video packets in a slice (no decoding)."""
    probed = probe(path)
    if probed.timeline is None:
        return 0
    return probed.timeline.frames


def slice_is_complete(path: Path, frames: int) -> bool:
    """Whether a finished slice is already in place (it is renamed there only once checked)."""
    if not path.is_file():
        return False
    try:
        return count_video_packets(path) == frames
    except ProbeError:
        return False


def check_slice(path: Path, *, frames: int, threads: int, label: str) -> None:
    """Demand exactly ``frames`` video packets and an error-free decode of the whole slice.

    Raises:
        StepError: wrong frame count or a decode error.
    """
    try:
        found = count_video_packets(path)
    except ProbeError as exc:
        raise StepError(f"{label}: encoded slice is unreadable: {exc}") from exc
    if found != frames:
        raise StepError(
            f"{label}: encoded slice has {found} frames, expected {frames} "
            "(the source is damaged or its timestamps are broken near this slice)"
        )
    _ffmpeg_run.run(
        [
            "-xerror",
            "-threads",
            str(threads),
            "-i",
            str(path),
            "-map",
            "0:v:0",
            # Frames keep their own timestamps: a constant-rate null output would collide
            # variable-rate frames onto the same tick and report that as an error.
            *_ffmpeg_run.ffmpeg().dialect.passthrough(),
            "-f",
            "null",
            "-",
        ],
        what=f"{label}: encoded slice does not decode cleanly",
    )


def encode(*, source: Path, work: Path, settings: EncodeSettings, index: int) -> Path:
    """Encode slice ``index`` of the plan in ``work`` into ``work/slices``.

    Safe to re-run: a slice already in place with the right frame count is left alone.

    Raises:
        StepError: no plan, an unknown index, a damaged source or a failed check.
    """
    plan = load_plan(work, source)
    if not 0 <= index < len(plan.slices):
        raise StepError(f"slice index {index} out of range: the plan has {len(plan.slices)} slices")
    piece = plan.slices[index]
    final = slice_path(work, index)
    progress = ProgressReporter(piece.frames)
    last = piece.first_frame + piece.frames - 1
    label = f"slice {index} (frames {piece.first_frame}-{last})"
    if slice_is_complete(final, piece.frames):
        logger.info("%s: already encoded", label)
        progress.finish()
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = _atomic.temp_path(final)
    try:
        _ffmpeg_run.run(
            encode_command(
                source=source,
                plan=plan,
                piece=piece,
                settings=settings,
                output=temp,
                dialect=_ffmpeg_run.ffmpeg().dialect,
            ),
            what=f"{label}: encoding from {source} failed",
            on_frames=progress.update,
            quiet_required=False,
        )
        check_slice(temp, frames=piece.frames, threads=settings.threads, label=label)
        temp.replace(final)
    finally:
        _atomic.remove_quietly(temp)
    progress.finish()
    logger.info("%s: encoded %d frames", label, piece.frames)
    return final
