"""The CLI's terminal plumbing besides progress: exit codes, job lines, interrupts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import asdict

from clustercode.cli.progress import describe
from clustercode.models import Job

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "install_interrupt",
    "print_job",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def print_job(job: Job, *, as_json: bool) -> None:
    """One job as a line, or as JSON."""
    if as_json:
        print(json.dumps(asdict(job), sort_keys=True))
    else:
        print(f"{job.id}  {job.state.value:<9}  {job.profile:<6}  {describe(job, {})}")


def install_interrupt(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop`` (a second Ctrl-C interrupts at once)."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("clustercode: stopping: cancelling running jobs ...", file=sys.stderr)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal)
