"""Live progress of running jobs for the CLI: a table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table

from clustercode.models import Job, JobEvent, JobState, SliceProgress


def eta_seconds(job: Job, slices: dict[int, SliceProgress]) -> float | None:
    """Seconds left at the current speed of the running slices, or None when unknown."""
    fps = sum(s.fps for s in slices.values() if s.state == "running")
    left = job.frames_total - job.frames_done
    if fps <= 0 or job.frames_total <= 0:
        return None
    return max(0.0, left / fps)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@dataclass(slots=True)
class _Row:
    job: Job
    slices: dict[int, SliceProgress] = field(default_factory=dict)
    last_percent: int = -1


def describe(job: Job, slices: dict[int, SliceProgress]) -> str:
    """One line: state, slices done, frames, fps, ETA, error."""
    name = Path(job.source).name
    if job.state is JobState.RUNNING and job.frames_total:
        fps = sum(s.fps for s in slices.values() if s.state == "running")
        percent = 100 * job.frames_done // job.frames_total
        return (
            f"{name}: {percent}% slices {job.slices_done}/{job.slices_total} "
            f"frames {job.frames_done}/{job.frames_total} {fps:.0f} fps "
            f"ETA {_clock(eta_seconds(job, slices))}"
        )
    if job.state is JobState.SUCCEEDED:
        return f"{name}: succeeded -> {job.output} ({job.size_before} -> {job.size_after} bytes)"
    if job.error:
        return f"{name}: {job.state.value}: {job.error}"
    return f"{name}: {job.state.value}"


class ProgressDisplay:
    """Follows job events and shows them.

    On a terminal it draws a live table (job, state, slices, frames, fps, ETA); elsewhere it
    prints a line per state change and per 10% of progress, so logs stay readable.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self._stream = stream or sys.stdout
        self._live_mode = self._stream.isatty() if live is None else live
        self._rows: dict[str, _Row] = {}
        self._live: Live | None = None

    def __enter__(self) -> ProgressDisplay:
        if self._live_mode:
            self._live = Live(
                self._table(), console=Console(file=self._stream), refresh_per_second=4
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, event: JobEvent) -> None:
        """Take one event into account and redraw or print."""
        row = self._rows.get(event.job_id)
        if row is None:
            row = self._rows[event.job_id] = _Row(job=event.job)
        state_changed = row.job.state is not event.job.state or event.kind == "state"
        row.job = event.job
        if event.slice is not None:
            row.slices[event.slice.index] = event.slice
        if self._live is not None:
            self._live.update(self._table())
            return
        percent = 100 * row.job.frames_done // row.job.frames_total if row.job.frames_total else 0
        if state_changed or percent // 10 > row.last_percent // 10:
            row.last_percent = percent
            print(describe(row.job, row.slices), file=self._stream, flush=True)

    def note(self, text: str) -> None:
        """Show one line about the run itself (e.g. Redis unreachable), above a live table."""
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self._stream, flush=True)

    def _table(self) -> RenderableType:
        table = Table(expand=True)
        for column in ("file", "state", "slices", "frames", "fps", "ETA"):
            table.add_column(column)
        for row in self._rows.values():
            job = row.job
            fps = sum(s.fps for s in row.slices.values() if s.state == "running")
            state = job.state.value if not job.error else f"{job.state.value}: {job.error}"
            table.add_row(
                Path(job.source).name,
                state,
                f"{job.slices_done}/{job.slices_total}",
                f"{job.frames_done}/{job.frames_total}",
                f"{fps:.0f}",
                _clock(eta_seconds(job, row.slices)) if job.state is JobState.RUNNING else "",
            )
        return table
