"""One attempt of a container template as a local process, with the semantics of a pod.

The process runs in its own session (process group): cancelling kills the whole group, SIGTERM
first and SIGKILL after a grace period, as Kubernetes stops a pod; when the main process exits,
anything it left behind in its group is killed too, as the pod's end would. When this process
dies without a chance to clean up (SIGKILL), the kernel sends each step SIGTERM
(:func:`pipelines.lifetime.die_with_parent`), so no step outlives the control service. Progress
comes from the file named by ``ARGO_PROGRESS_FILE``, polled while the process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.lifetime import die_with_parent

log = logging.getLogger(__name__)

_PROGRESS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_TAIL_LINES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How a process attempt ended.

    Attributes:
        returncode: the exit status; negative for a signal; ``None`` when it never started.
        message: why it failed (the last stderr line, the signal, the deadline), or empty.
        progress: the last ``N/M`` it reported.
    """

    returncode: int | None
    message: str = ""
    progress: tuple[int, int] | None = None

    @property
    def succeeded(self) -> bool:
        """Exit status 0."""
        return self.returncode == 0


def read_progress(path: Path) -> tuple[int, int] | None:
    """Parse ``N/M`` from a progress file; ``None`` while it is absent or half written."""
    try:
        match = _PROGRESS.match(path.read_text())
    except (OSError, UnicodeDecodeError):
        return None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # The process leads its own session, so its group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _drain(stream: asyncio.StreamReader | None, tail: deque[str] | None, label: str) -> None:
    """Read a pipe to its end, logging lines and keeping the last few in ``tail``."""
    if stream is None:
        return
    pending = b""
    while chunk := await stream.read(65536):
        *lines, pending = re.split(rb"[\r\n]", pending + chunk)
        pending = pending[-65536:]
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            if line:
                log.debug("%s: %s", label, line)
                if tail is not None:
                    tail.append(line)
    last = pending.decode(errors="replace").strip()
    if last and tail is not None:
        tail.append(last)


async def _terminate(process: asyncio.subprocess.Process, grace: float) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()


async def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    progress_file: Path,
    label: str,
    on_start: Callable[[int], None],
    on_progress: Callable[[tuple[int, int]], None],
    deadline: float | None = None,
    poll_interval: float = 0.5,
    kill_grace: float = 5.0,
) -> Outcome:
    """Run ``argv`` to its end; cancelling the caller kills the process group first.

    Args:
        argv: command and arguments.
        env: the whole environment of the process.
        cwd: working directory, or ``None`` for the current one.
        progress_file: polled for ``N/M``.
        label: names the process in log lines.
        on_start: called with the pid once the process runs.
        on_progress: called whenever the reported progress changes.
        deadline: seconds after which the process is killed and the attempt fails.
        poll_interval: seconds between progress polls.
        kill_grace: seconds between SIGTERM and SIGKILL.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            # SIGTERM, not SIGKILL: the step then stops its ffmpeg and removes its temp files.
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
    except OSError as exc:
        return Outcome(returncode=None, message=f"cannot run {argv[0]}: {exc.strerror or exc}")
    on_start(process.pid)
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    readers = [
        asyncio.create_task(_drain(process.stdout, None, label)),
        asyncio.create_task(_drain(process.stderr, tail, label)),
    ]
    progress: tuple[int, int] | None = None

    def poll() -> None:
        nonlocal progress
        current = read_progress(progress_file)
        if current is not None and current != progress:
            progress = current
            on_progress(current)

    waiter = asyncio.create_task(process.wait())
    timed_out = False
    try:
        async with asyncio.timeout(deadline):
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=poll_interval)
                poll()
    except TimeoutError:
        timed_out = True
        await _terminate(process, kill_grace)
    except asyncio.CancelledError:
        await _terminate(process, kill_grace)
        raise
    finally:
        _signal_group(process.pid, signal.SIGKILL)
        if not waiter.done():
            waiter.cancel()
        # A grandchild that left the group could hold the pipes open: do not wait for it forever.
        _done, stuck = await asyncio.wait(readers, timeout=2.0)
        for reader in stuck:
            reader.cancel()
    returncode = process.returncode
    assert returncode is not None  # the process was waited for on every path
    poll()
    if timed_out:
        message = f"killed after activeDeadlineSeconds ({deadline:g} s)"
    elif returncode < 0:
        message = f"killed by {signal.Signals(-returncode).name}"
    elif returncode > 0:
        message = tail[-1] if tail else f"exit code {returncode}"
    else:
        message = ""
    return Outcome(returncode=returncode, message=message, progress=progress)
