"""Run ffmpeg for a step: strict about errors, optionally reporting frames done."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from pipelines.ffmpeg import FFmpeg, FFmpegError, checked_ffmpeg
from pipelines.lifetime import die_with_parent
from pipelines.steps.errors import EnvironmentStepError, StepError

logger = logging.getLogger(__name__)

# "[h264 @ 0x55d0c...]" -> "[h264]": addresses differ per run and mean nothing to a user.
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+")
_MAX_REASON = 300
# ffmpeg messages that blame the machine or the binary, not the file: no attempt of the file is
# used up for them (see EXIT_ENVIRONMENT).
_ENVIRONMENT = re.compile(
    r"No space left on device|Disk quota exceeded|Read-only file system|Permission denied"
    r"|Unknown encoder|Encoder not found|Unrecognized option|Option not found"
    r"|Invalid time base|Cannot allocate memory|Error selecting an encoder",
    re.IGNORECASE,
)


def ffmpeg() -> FFmpeg:
    """The checked ffmpeg binary, or an :class:`EnvironmentStepError` that says how to get one."""
    try:
        return checked_ffmpeg()
    except FFmpegError as exc:
        raise EnvironmentStepError(str(exc)) from exc


_START = re.compile(r"^\s*Duration: .*?, start: (-?\d+(?:\.\d+)?)", re.MULTILINE)


class StartTimeProbe:
    """``ffmpeg -i PATH`` running in the background, to learn the start time it reads.

    Releases disagree: for a Matroska file whose audio starts before its video (negative
    timestamps, as ffmpeg 7 and later write AAC priming), 5.1 and 7.0 report the audio's start,
    9.0 and PyAV's libraries the video's. An offset restored in the final mux must use the
    running binary's notion, or the audio moves by the difference (23 ms). Started first and
    read later, the question costs no wall time next to other work.

    Raises:
        EnvironmentStepError: ffmpeg cannot be started.
    """

    def __init__(self, path: Path) -> None:
        """Start asking about ``path``."""
        self._binary = ffmpeg()
        try:
            self._process = subprocess.Popen(
                [self._binary.path, "-nostdin", "-hide_banner", "-i", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=self._binary.environ(),
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            raise EnvironmentStepError(
                f"cannot run ffmpeg {self._binary.describe()}: {exc}"
            ) from exc

    def result(self) -> float | None:
        """Seconds, or ``None`` when ffmpeg reports none.

        Raises:
            EnvironmentStepError: ffmpeg did not answer within two minutes.
        """
        try:
            _, stderr = self._process.communicate(timeout=120)
        except subprocess.TimeoutExpired as exc:
            self._process.kill()
            self._process.wait()
            raise EnvironmentStepError(
                f"ffmpeg {self._binary.describe()} did not answer within 120 s"
            ) from exc
        match = _START.search(stderr)
        return float(match.group(1)) if match else None


def input_start_time(path: Path) -> float | None:
    """The start time ffmpeg itself subtracts from every stream of ``path`` when reading it.

    Returns:
        Seconds, or ``None`` when ffmpeg reports none (see :class:`StartTimeProbe`).
    """
    return StartTimeProbe(path).result()


def summarize(stderr: str) -> str:
    """The first meaningful line of ffmpeg's error output, fit for a one-line message."""
    for line in stderr.splitlines():
        line = _ADDRESS.sub("", line).strip()
        if line:
            return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."
    return "no message"


def run(
    args: Sequence[str],
    *,
    what: str,
    on_frames: Callable[[int], None] | None = None,
    quiet_required: bool = True,
) -> None:
    """Run ``ffmpeg -nostdin -v error ARGS`` and demand a clean finish.

    By default any output on stderr at ``-v error`` counts as failure, not only the exit code:
    ffmpeg exits 0 on a truncated input ("File ended prematurely") and on frames it could only
    conceal.

    Args:
        args: ffmpeg arguments after the global ``-nostdin -v error``.
        what: what the run does, the start of the error message ("slice 3: encode").
        on_frames: called with the number of frames written, every progress period (0.5 s).
        quiet_required: fail on any error message. Off where messages are expected noise:
            decoding an open-GOP source from a seek point reports the leading frames it cannot
            decode (and then drops, being before the seek point), e.g. "mmco: unref short
            failure"; there ``-xerror`` and the exit code decide.

    Raises:
        EnvironmentStepError: ffmpeg cannot run, or failed for a reason of the machine (a full
            disk, an unwritable output, an option or encoder this build lacks).
        StepError: ffmpeg exited non-zero or reported an error.
    """
    binary = ffmpeg()
    command = [binary.path, "-nostdin", "-hide_banner", "-v", "error"]
    if on_frames is not None:
        command += ["-progress", "pipe:1", "-nostats"]
    command += list(args)
    logger.debug("running %s", command)
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if on_frames is not None else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=binary.environ(),
            # A step killed outright must not leave its encoder running.
            preexec_fn=die_with_parent(),
        )
    except OSError as exc:
        raise EnvironmentStepError(f"{what}: cannot start ffmpeg: {exc}") from exc
    errors: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=_collect, args=(process.stderr, errors), daemon=True)
    reader.start()
    try:
        if on_frames is not None:
            assert process.stdout is not None
            _follow_progress(process.stdout, on_frames)
        code = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join()
    stderr = "".join(errors)
    if stderr.strip() and code == 0 and not quiet_required:
        logger.info("%s: ffmpeg reported (not fatal): %s", what, summarize(stderr))
    elif code != 0 or stderr.strip():
        reason = summarize(stderr) if stderr.strip() else f"ffmpeg exited with status {code}"
        if _ENVIRONMENT.search(stderr):
            raise EnvironmentStepError(f"{what}: {reason} (ffmpeg {binary.describe()})")
        raise StepError(f"{what}: {reason}")


def _collect(stream: IO[str], into: list[str]) -> None:
    # Keep the start (the first error is the cause) and cap memory on a flood of messages.
    for line in stream:
        if len(into) < 200:
            into.append(line)


def _follow_progress(stream: IO[str], on_frames: Callable[[int], None]) -> None:
    frame = 0
    for line in stream:
        key, _, value = line.strip().partition("=")
        if key == "frame" and value.isdigit():
            frame = int(value)
        elif key == "progress":
            on_frames(frame)
