"""The jobs table: one row per job, keyed by job id, updated in place as events arrive."""

from __future__ import annotations

from collections.abc import Iterable

from textual.markup import escape
from textual.widgets import DataTable

from clustercode.api.v1 import jobs_pb2
from tui.display import FILTER_KEYS, job_progress, state_name

__all__ = ["COLUMNS", "WIDTHS", "JobsTable"]

# (key, label); the keys name the cells for update_cell and get_cell.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Job"),
    ("state", "State"),
    ("progress", "Progress"),
    ("slices", "Slices"),
    ("attempts", "Tries"),
    ("profile", "Profile"),
    ("source", "Source"),
)

# Columns whose values have a known longest form get that width from the start: sized from the
# first rows, "queued" would cut a later "succeeded" to "succeed". The others grow as needed.
WIDTHS: dict[str, int] = {
    "id": 12,
    "state": max(len(state_name(state)) for state in jobs_pb2.JobState.values()),
    "progress": len("Progress"),
    "slices": len("999/999"),
    "attempts": len("Tries"),
}

# New jobs arrive in bursts (a scan queues hundreds): the table is rebuilt once per burst.
_NEW_ROWS_DELAY = 0.2


class JobsTable(DataTable[str]):
    """The jobs of one state filter, in the server's order, paged by ListJobs."""

    def __init__(self, *, id: str | None = None) -> None:
        """An empty table showing every state."""
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.state_filter: int = jobs_pb2.JOB_STATE_UNSPECIFIED
        self.next_page_token = ""
        self._jobs: dict[str, jobs_pb2.Job] = {}
        self._arrived: list[jobs_pb2.Job] = []

    def on_mount(self) -> None:
        """Add the columns."""
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=WIDTHS.get(key))
        self._refresh_titles()

    @property
    def job_ids(self) -> list[str]:
        """Ids of the rows, top to bottom."""
        return [str(row.key.value) for row in self.ordered_rows]

    def job(self, job_id: str) -> jobs_pb2.Job | None:
        """The job of a row, or None if it is not shown."""
        return self._jobs.get(job_id)

    def selected_job(self) -> jobs_pb2.Job | None:
        """The job under the cursor."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return self._jobs.get(str(row_key.value))

    def matches(self, job: jobs_pb2.Job) -> bool:
        """Whether the job belongs in the table under its state filter."""
        return self.state_filter in (jobs_pb2.JOB_STATE_UNSPECIFIED, job.state)

    def show_page(self, jobs: Iterable[jobs_pb2.Job], next_page_token: str) -> None:
        """Replace every row with the first page; the cursor stays on its job if it is there."""
        selected = self.selected_job()
        self._jobs = {job.id: job for job in jobs}
        self._arrived.clear()
        self.next_page_token = next_page_token
        self._rebuild(selected.id if selected else None)
        self._refresh_titles()

    def add_page(self, jobs: Iterable[jobs_pb2.Job], next_page_token: str) -> None:
        """Append the next page below the rows shown."""
        self.next_page_token = next_page_token
        for job in jobs:
            if job.id in self._jobs:
                self.upsert(job)  # it moved pages while we read them
            else:
                self._jobs[job.id] = job
                self.add_row(*_cells(job), key=job.id)
        self._refresh_titles()

    def upsert(self, job: jobs_pb2.Job) -> None:
        """Show a job's new record: update its row, drop it if it left the filter, or add it."""
        if job.id in self._jobs:
            if not self.matches(job):
                self.remove_job(job.id)
                return
            self._jobs[job.id] = job
            for (key, _), value in zip(COLUMNS, _cells(job), strict=True):
                self.update_cell(job.id, key, value, update_width=key not in WIDTHS)
            return
        if not self.matches(job) or any(seen.id == job.id for seen in self._arrived):
            return
        # Queued jobs are listed in run order, so a new one belongs after every page; other
        # lists are newest first, so it goes on top.
        if self.state_filter == jobs_pb2.JOB_STATE_QUEUED:
            if not self.next_page_token:
                self._jobs[job.id] = job
                self.add_row(*_cells(job), key=job.id)
                self._refresh_titles()
            return
        if not self._arrived:
            self.set_timer(_NEW_ROWS_DELAY, self._add_arrived)
        self._arrived.append(job)

    def remove_job(self, job_id: str) -> None:
        """Drop a job's row if it is shown."""
        self._arrived = [job for job in self._arrived if job.id != job_id]
        if self._jobs.pop(job_id, None) is not None:
            self.remove_row(job_id)
            self._refresh_titles()

    def _add_arrived(self) -> None:
        arrived = [job for job in reversed(self._arrived) if job.id not in self._jobs]
        self._arrived.clear()
        if not arrived:
            return
        selected = self.selected_job()
        self._jobs = {job.id: job for job in arrived} | self._jobs
        self._rebuild(selected.id if selected else None)
        self._refresh_titles()

    def _refresh_titles(self) -> None:
        # Title: the filter and the row count ("+": more pages); subtitle: the filter keys.
        more = "+" if self.next_page_token else ""
        self.border_title = f"Jobs: {state_name(self.state_filter)} ({self.row_count}{more})"
        self.border_subtitle = "  ".join(
            f"[reverse]{key} {state_name(state)}[/reverse]"
            if state == self.state_filter
            else f"{key} {state_name(state)}"
            for key, state in FILTER_KEYS.items()
        )

    def _rebuild(self, keep: str | None) -> None:
        self.clear()
        for job in self._jobs.values():
            self.add_row(*_cells(job), key=job.id)
        if keep is not None and keep in self._jobs:
            self.move_cursor(row=self.get_row_index(keep), scroll=True)


def _cells(job: jobs_pb2.Job) -> tuple[str, ...]:
    planned = job.slices_total and job.state != jobs_pb2.JOB_STATE_QUEUED
    slices = f"{job.slices_done}/{job.slices_total}" if planned else "-"
    return (
        job.id,
        state_name(job.state),
        job_progress(job),
        slices,
        str(job.attempts),
        escape(job.profile),
        # Cells are read as markup; file names often hold brackets ("[1080p]").
        escape(job.source),
    )
