"""``encode``: make one slice from the original file, frame-exact, and prove it is whole.

The proof: the slice read back (stream copy, no decoding) has exactly the slice's frame count,
and its packets are recorded (:mod:`pipelines.steps._packets`) so ``merge`` can prove the bytes
it joins are the bytes written here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.ffmpeg import Dialect
from pipelines.settings import EncodeSettings
from pipelines.steps import _atomic, _ffmpeg_run, _packets
from pipelines.steps._plan import Plan, SlicePlan, load_plan, slice_path
from pipelines.steps._progress import ProgressReporter
from pipelines.steps._proof import slice_is_proven, write_proof
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


def slice_is_complete(path: Path, frames: int) -> bool:
    """Whether a finished slice is in place and still holds the packets it was written with.

    A slice is renamed into place only after its check, and its packet record just before.
    """
    if not path.is_file():
        return False
    record = _packets.read_record(path)
    if record is None or len(record) != frames:
        return False
    try:
        found = _packets.read_back(path, what=f"reading back {path}")
    except StepError:
        return False
    return found.packets == record


def check_slice(path: Path, *, frames: int, label: str) -> _packets.PacketHashes:
    """Read the written slice back (stream copy) and demand exactly ``frames`` video packets.

    Returns:
        The slice's packet hashes (its record) and codec setup.

    Raises:
        StepError: the slice cannot be demuxed cleanly or has the wrong frame count.
    """
    hashes = _packets.read_back(path, what=f"{label}: encoded slice is unreadable")
    if len(hashes.packets) != frames:
        raise StepError(
            f"{label}: encoded slice has {len(hashes.packets)} frames, expected {frames} "
            "(the source is damaged or its timestamps are broken near this slice)"
        )
    return hashes


def encode(*, source: Path, work: Path, settings: EncodeSettings, index: int) -> Path:
    """Encode slice ``index`` of the plan in ``work`` into ``work/slices``.

    Safe to re-run: a slice already made and checked under the same plan (same source version,
    same settings; see :mod:`pipelines.steps._proof`) that still matches its packet record is
    left alone.

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
    if slice_is_proven(work, plan, piece) and slice_is_complete(final, piece.frames):
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
        hashes = check_slice(temp, frames=piece.frames, label=label)
        _packets.write_record(final, hashes.packets)
        temp.replace(final)
    finally:
        _atomic.remove_quietly(temp)
    write_proof(
        work,
        plan,
        piece,
        ("frames", "packets"),
        codec=hashes.codec,
        extradata=hashes.extradata,
    )
    progress.finish()
    logger.info("%s: encoded %d frames", label, piece.frames)
    return final
