"""Prove that an ffmpeg binary cuts frame-exact slices, with the encode step's own arguments.

The binary makes two tiny open-GOP clips (MPEG-2 video with B-frames, so the frames just before
each I-frame in presentation order are decoded after it and refer back into the previous group):
one in MPEG-TS starting at 10 s (no seek index, a start offset, the ``-copyts`` clock), one in
Matroska (index seek, the CLI's B-frame seek adjustment). Each is planned as ``split`` plans it
and cut into three slices, the second starting on such a leading B-frame, the third just after
an I-frame. Every slice is encoded losslessly with :func:`~pipelines.steps.encode.encode_command`
and must decode to exactly the source's frames at its positions (count and MD5 per frame).

The check tries the argument spellings (:data:`~pipelines.ffmpeg.DIALECTS`) likely for the
release first, and when the binary crashes it tries again with the known crash workaround
(:data:`~pipelines.ffmpeg.GCONV_WORKAROUND`). About a second per binary; the result is cached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ffmpeg import DIALECTS, GCONV_WORKAROUND, Dialect

_TIMEOUT = 60
_SOURCE_VIDEO = "testsrc2=size=96x64:rate=25:duration=2.4"
_SOURCE_AUDIO = "sine=frequency=440:duration=2.4"
_OPEN_GOP_MPEG2 = (
    *("-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-q:v", "4"),
    *("-sc_threshold", "1000000000"),
)
_LOSSLESS = ("-c:v", "ffv1")


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfTest:
    """Outcome of the self-test.

    Attributes:
        passed: every slice was exact.
        problem: why not (one line), ``None`` when passed.
        dialect: the spellings that passed (or the last tried).
        env: the environment that passed (or the last tried).
        seconds: wall time of the whole test.
        definite: the outcome holds for this binary; ``False`` when the last attempt failed for
            a passing reason (a timeout on a busy machine, no temporary space), not to be cached.
    """

    passed: bool
    problem: str | None
    dialect: Dialect
    env: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    definite: bool = True


class AttemptFailedError(Exception):
    """One attempt failed; ``crashed`` when ffmpeg died of a signal, ``passing`` when it could
    not run for a reason outside the binary (a timeout, an OS error)."""

    def __init__(self, message: str, *, crashed: bool = False, passing: bool = False) -> None:
        super().__init__(message)
        self.crashed = crashed
        self.passing = passing


def _ordered(release: tuple[int, int] | None) -> list[Dialect]:
    # 5.x and 6.x know only "-1"; 7.0 and later "demux" (9 rejects "-1"); unknown: newest first.
    if release is not None and release < (7, 0):
        return sorted(DIALECTS, key=lambda d: d.enc_time_base != "-1")
    return list(DIALECTS)


def self_test(path: str, *, release: tuple[int, int] | None) -> SelfTest:
    """Run the self-test on the binary at ``path``; never raises for a bad binary."""
    started = time.monotonic()
    dialects = _ordered(release)
    problem = "no attempt"
    passing = False
    dialect, env = dialects[0], {}
    with tempfile.TemporaryDirectory(prefix="clustercode-ffmpeg-check-") as temp:
        directory = Path(temp)
        for env in ({}, dict(GCONV_WORKAROUND)):
            crashed = False
            for dialect in dialects:
                try:
                    attempt(path, directory, dialect, env)
                except AttemptFailedError as failed:
                    problem, crashed, passing = str(failed), failed.crashed, failed.passing
                    if passing:
                        break
                    if crashed:
                        break  # the spelling does not matter; try the workaround
                    continue
                return SelfTest(
                    passed=True,
                    problem=None,
                    dialect=dialect,
                    env=env,
                    seconds=time.monotonic() - started,
                )
            if not crashed:
                break
    return SelfTest(
        passed=False,
        problem=f"fails the frame-exact self-test: {problem}",
        dialect=dialect,
        env=env,
        seconds=time.monotonic() - started,
        definite=not passing,
    )


def _run(path: str, args: Sequence[str], env: Mapping[str, str], what: str) -> str:
    command = [path, "-nostdin", "-hide_banner", "-v", "error", *args]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise AttemptFailedError(f"{what}: {exc}", passing=True) from exc
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise AttemptFailedError(f"{what}: ffmpeg crashed ({name})", crashed=True)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise AttemptFailedError(f"{what}: {reason}")
    return done.stdout


def _frame_hashes(
    path: str, files: Sequence[Path], dialect: Dialect, env: Mapping[str, str], what: str
) -> list[list[str]]:
    """MD5 of every decoded frame of each file, all decoded by one ffmpeg run."""
    args: list[str] = []
    for file in files:
        args += ["-i", str(file)]
    hashes = [file.with_name(file.name + ".framemd5") for file in files]
    for number, target in enumerate(hashes):
        args += ["-map", f"{number}:v:0", *dialect.decode_passthrough()]
        args += ["-f", "framemd5", "-y", str(target)]
    _run(path, args, env, what)
    return [
        [line.rsplit(",", 1)[1].strip() for line in text.splitlines() if line[:1] not in "#"]
        for text in (target.read_text(encoding="utf-8") for target in hashes)
    ]


def _make_clips(path: str, directory: Path, env: Mapping[str, str]) -> list[Path]:
    sources = ["-f", "lavfi", "-i", _SOURCE_VIDEO, "-f", "lavfi", "-i", _SOURCE_AUDIO]
    clips = []
    for name, container, extra in (
        ("open-gop.ts", "mpegts", ("-c:a", "mp2", "-output_ts_offset", "10")),
        ("open-gop.mkv", "matroska", ("-c:a", "pcm_s16le")),
    ):
        clip = directory / name
        if not clip.exists():
            args = [*sources, *_OPEN_GOP_MPEG2, *extra, "-f", container, "-y", str(clip)]
            _run(path, args, env, f"making the {container} test clip")
        clips.append(clip)
    return clips


def attempt(path: str, directory: Path, dialect: Dialect, env: Mapping[str, str]) -> None:
    """Make the test clips in ``directory`` (once), cut and compare them.

    Raises:
        AttemptFailedError: a run failed or crashed, or a slice is not exact.
    """
    # Imported here: only a cache miss pays for the media libraries.
    from pipelines.probe import ProbeError, probe
    from pipelines.settings import EncodeSettings
    from pipelines.steps._plan import build_plan
    from pipelines.steps.encode import encode_command

    settings = EncodeSettings(video=_LOSSLESS, threads=1)
    for clip in _make_clips(path, directory, env):
        kind = clip.suffix.lstrip(".")
        try:
            probed = probe(clip)
        except ProbeError as exc:
            raise AttemptFailedError(f"its {kind} test clip is unreadable: {exc}") from exc
        timeline = probed.timeline
        if timeline is None or len(timeline.keyframes) < 3:
            raise AttemptFailedError(f"its {kind} test clip has no open GOPs to cut")
        keyframe_frames = [bisect_left(timeline.pts, k) for k in timeline.keyframes]
        # A leading B-frame of the second group, then the frame after the third I-frame.
        starts = [0, keyframe_frames[1] - 1, keyframe_frames[2] + 1]
        plan = build_plan(
            source=clip, info=probed.info, timeline=timeline, slice_seconds=1.0, starts=starts
        )
        outputs = []
        for piece in plan.slices:
            output = directory / f"{clip.stem}-{kind}-{piece.index}.mkv"
            args = encode_command(
                source=clip,
                plan=plan,
                piece=piece,
                settings=settings,
                output=output,
                dialect=dialect,
            )
            _run(path, args, env, f"slice {piece.index} of the {kind} test clip")
            outputs.append(output)
        reference, *decoded = _frame_hashes(
            path, [clip, *outputs], dialect, env, f"decoding the {kind} test clip and its slices"
        )
        if len(reference) != timeline.frames:
            raise AttemptFailedError(
                f"decoding the {kind} test clip gave {len(reference)} frames, "
                f"it has {timeline.frames}"
            )
        for piece, got in zip(plan.slices, decoded, strict=True):
            what = f"slice {piece.index} of the {kind} test clip"
            expected = reference[piece.first_frame : piece.first_frame + piece.frames]
            if len(got) != len(expected):
                raise AttemptFailedError(f"{what} has {len(got)} frames, expected {len(expected)}")
            if got != expected:
                pairs = enumerate(zip(got, expected, strict=True))
                wrong = next(i for i, (a, b) in pairs if a != b)
                raise AttemptFailedError(f"{what}: frame {wrong} is not the source's frame")
