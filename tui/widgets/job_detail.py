"""The detail pane: one job's fields, its overall ETA, and a progress bar per slice."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Label, ProgressBar, Static

from clustercode.api.v1 import jobs_pb2
from tui.display import (
    eta_seconds,
    format_duration,
    format_size,
    percent,
    slice_line,
    state_name,
)

__all__ = ["JobDetail", "SliceRow"]


class SliceRow(Horizontal):
    """One slice: its label (state, frames, fps) and a bar of frames done."""

    def __init__(self, piece: jobs_pb2.Slice) -> None:
        """Show the slice as first reported."""
        super().__init__(classes="slice-row")
        self.piece = piece
        self._label = Label(Content(slice_line(piece)), classes="slice-label")
        self._bar = ProgressBar(show_eta=False, classes="slice-bar")

    def compose(self) -> ComposeResult:
        """Label, then bar."""
        yield self._label
        yield self._bar

    def on_mount(self) -> None:
        """Fill the bar."""
        self.show(self.piece)

    def show(self, piece: jobs_pb2.Slice) -> None:
        """Show the slice's new progress."""
        self.piece = piece
        self._label.update(Content(slice_line(piece)))
        self._bar.update(total=piece.frames_total or None, progress=piece.frames_done)

    @property
    def text(self) -> str:
        """The label as shown."""
        return slice_line(self.piece)

    @property
    def progress(self) -> float:
        """Frames done, as the bar holds them."""
        return self._bar.progress


# Order of the slice rows: what runs now first, so it is in view however many slices are done
# (a pane shows about ten); then failed, waiting, and done slices. Ties by index.
_ROW_ORDER = {
    jobs_pb2.SLICE_STATE_RUNNING: 0,
    jobs_pb2.SLICE_STATE_FAILED: 1,
    jobs_pb2.SLICE_STATE_PENDING: 2,
    jobs_pb2.SLICE_STATE_SUCCEEDED: 3,
}


def _row_order(row: SliceRow) -> tuple[int, int]:
    return _ROW_ORDER.get(row.piece.state, 2), row.piece.index


class JobDetail(Vertical):
    """The selected job: GetJob's answer, kept current by the job's events."""

    def __init__(self, *, id: str | None = None) -> None:
        """Empty until a job is shown."""
        super().__init__(id=id)
        self.border_title = "Job"
        self.job: jobs_pb2.Job | None = None
        self._summary = Static(Content("No job selected."), id="detail-summary")
        self._box = VerticalScroll(id="detail-slices")
        self._rows: dict[int, SliceRow] = {}

    def compose(self) -> ComposeResult:
        """Summary above the slice bars."""
        yield self._summary
        yield self._box

    @property
    def job_id(self) -> str | None:
        """Id of the job shown."""
        return self.job.id if self.job is not None else None

    @property
    def summary(self) -> str:
        """The summary as shown."""
        return str(self._summary.content)

    @property
    def slice_rows(self) -> list[SliceRow]:
        """The slice rows in index order."""
        return [self._rows[index] for index in sorted(self._rows)]

    @property
    def shown_rows(self) -> list[SliceRow]:
        """The slice rows top to bottom as shown: running first (see ``_ROW_ORDER``)."""
        return [child for child in self._box.children if isinstance(child, SliceRow)]

    def show(self, job: jobs_pb2.Job, slices: Sequence[jobs_pb2.Slice]) -> None:
        """Show a job and its slices, replacing whatever was shown."""
        same_slices = job.id == self.job_id and sorted(self._rows) == [s.index for s in slices]
        self.job = job
        if same_slices:
            for piece in slices:
                self._rows[piece.index].show(piece)
            self._reorder()
        else:
            self._box.remove_children()
            self._rows = {piece.index: SliceRow(piece) for piece in slices}
            rows: list[SliceRow] = sorted(self._rows.values(), key=_row_order)
            self._box.mount_all(rows)
            self._box.scroll_home(animate=False)
        self._refresh_summary()

    def show_job(self, job: jobs_pb2.Job) -> None:
        """Show a new record of the job shown (its slices are unchanged)."""
        if job.id == self.job_id:
            self.job = job
            self._refresh_summary()

    def show_slice(self, piece: jobs_pb2.Slice) -> bool:
        """Show one slice's progress; False if the slice is not known (reload the job)."""
        row = self._rows.get(piece.index)
        if row is None:
            return False
        moved = row.piece.state != piece.state
        row.show(piece)
        if moved:
            self._reorder()
        self._refresh_summary()
        return True

    def show_deleted(self, job: jobs_pb2.Job) -> None:
        """The job shown was deleted."""
        if job.id == self.job_id:
            self.clear_job(f"Job {job.id} was deleted; the next scan queues its file again.")

    def clear_job(self, text: str = "No job selected.") -> None:
        """Show no job."""
        self.job = None
        self._rows = {}
        self._box.remove_children()
        self._summary.update(Content(text))
        self.border_title = "Job"

    def _reorder(self) -> None:
        """Move rows whose slice changed state to their place (running ones to the top)."""
        wanted = sorted(self._rows.values(), key=_row_order)
        shown = self.shown_rows
        if shown == wanted or set(shown) != set(wanted):
            return  # in order, or still being mounted (mounted in order)
        for position, row in enumerate(wanted):
            if self._box.children[position] is not row:
                self._box.move_child(row, before=position)

    def _refresh_summary(self) -> None:
        job = self.job
        if job is None:
            return
        self.border_title = f"Job {job.id}"
        slices = [row.piece for row in self.slice_rows]
        frames = (
            f"{job.frames_done}/{job.frames_total} ({percent(job.frames_done, job.frames_total)})"
        )
        lines = [
            f"State    {state_name(job.state)}   attempts {job.attempts}   profile {job.profile}"
            + (f"   executor {job.executor}" if job.executor else ""),
            f"Source   {job.source}"
            + (f"   ({format_size(job.size_before)})" if job.size_before else ""),
            f"Output   {job.output}"
            + (f"   ({format_size(job.size_after)})" if job.size_after else ""),
            f"Frames   {frames}   slices {job.slices_done}/{job.slices_total}",
        ]
        if job.state == jobs_pb2.JOB_STATE_RUNNING:
            lines[-1] += f"   ETA {format_duration(eta_seconds(slices)) if slices else '-'}"
        if job.error:
            lines.append(f"Error    {job.error}")
        self._summary.update(Content("\n".join(lines)))
