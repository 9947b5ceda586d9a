"""Progress of a library scan for the CLI: files seen, rate and the directory being read.

On a terminal one live line is redrawn a few times a second; elsewhere a plain line is printed
every :data:`LOG_EVERY` seconds, so a log of the first scan of a large library shows it moving.
Skipped and parked files (every decision with ``verbose``) are printed as they are decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from clustercode.jobs.controller import Controller
from clustercode.jobs.views import ScanProgress, ScanReport
from clustercode.models import Decision, DecisionKind

__all__ = ["LOG_EVERY", "progress_line", "scan_with_progress"]

LOG_EVERY = 10.0
"""Seconds between two progress lines when the output is not a terminal."""

_NOTABLE = (DecisionKind.SKIPPED, DecisionKind.PARKED)


def progress_line(progress: ScanProgress) -> str:
    """``scanning: 120,000 files, 41,000/s, 3 queued, in /library/shows/x``."""
    return (
        f"scanning: {progress.files:,} files, {progress.files_per_second:,.0f}/s, "
        f"{progress.queued:,} queued, in {progress.directory}"
    )


async def scan_with_progress(
    ctl: Controller,
    *,
    verbose: bool = False,
    live: bool | None = None,
    stream: TextIO | None = None,
) -> ScanReport:
    """Run ``ctl.scan()`` and show its progress until it is done; return its report.

    Args:
        verbose: print every decision, not only skipped and parked files.
        live: redraw one line (default: when ``stream`` is a terminal).
        stream: where to write (default: standard output).
    """
    out = stream or sys.stdout
    live_mode = out.isatty() if live is None else live
    console = Console(file=out)
    display = Live(Text(""), console=console, refresh_per_second=4) if live_mode else None

    def decided(decision: Decision) -> None:
        if verbose or decision.kind in _NOTABLE:
            line = f"  {decision.kind.value}: {decision.path}: {decision.reason}"
            if display is not None:
                console.print(Text(line))  # above the live line
            else:
                print(line, file=out, flush=True)

    task = asyncio.create_task(ctl.scan(on_decision=decided, quiet_done=not verbose))
    with display if display is not None else contextlib.nullcontext():
        every = 0.25 if display is not None else LOG_EVERY
        while not task.done():
            await asyncio.wait({task}, timeout=every)
            if task.done() or ctl.last_scan is None:
                break
            line = progress_line(ScanProgress.of(ctl.last_scan))
            if display is not None:
                display.update(Text(line))
            else:
                print(line, file=out, flush=True)
        if display is not None:
            display.update(Text(""))
    return await task
