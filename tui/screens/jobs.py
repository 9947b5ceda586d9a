"""The jobs screen: status header, jobs table, the selected job's detail, and the actions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer

from clustercode.api.v1 import jobs_pb2
from tui.client import ApiClient
from tui.display import FILTER_KEYS, scan_summary, state_name
from tui.messages import (
    JobActionDone,
    JobEventReceived,
    JobLoaded,
    JobsLoaded,
    ScanDone,
    StatusLoaded,
    WatchOpened,
)
from tui.screens._api_screen import ApiScreen
from tui.screens.confirm import ConfirmScreen
from tui.widgets import JobDetail, JobsTable, StatusHeader

__all__ = ["JobsScreen"]


class JobsScreen(ApiScreen):
    """Everything the TUI shows: the server's status, its jobs, and one job in detail."""

    CSS_PATH = "jobs.tcss"
    BINDINGS = [
        *(
            # Listed under the table rather than in the footer: seven keys would crowd it.
            Binding(key, f"filter({state})", f"Show {state_name(state)}", show=False)
            for key, state in FILTER_KEYS.items()
        ),
        Binding("n", "next_page", "Next page"),
        Binding("p", "previous_page", "Prev page"),
        Binding("c", "cancel", "Cancel"),
        Binding("r", "retry", "Retry"),
        Binding("d", "delete", "Delete"),
        Binding("s", "scan", "Scan"),
    ]

    def __init__(self, client: ApiClient) -> None:
        """Show the server behind ``client``."""
        super().__init__(client)
        self.header = StatusHeader(client.address, id="status")
        self.table = JobsTable(id="jobs")
        self.detail = JobDetail(id="detail")
        self._jump_to: int | None = None  # row to move to once a page asked for with n arrives

    def compose(self) -> ComposeResult:
        """Header, table, detail, key help."""
        yield self.header
        yield self.table
        yield self.detail
        yield Footer()

    def on_mount(self) -> None:
        """Ask for the status and open the event stream; the jobs load once it is open."""
        self.table.focus()
        self.load_status()
        self.start_watch()
        self.set_interval(self.client.settings.status_every, self.load_status)

    # Results of the calls.

    def on_status_loaded(self, message: StatusLoaded) -> None:
        """Show the status; an answer means the server is back."""
        self.header.show_status(message.status)
        self.mark_connected()

    def on_watch_opened(self, message: WatchOpened) -> None:
        """Load the table, unless the stream resumed where it left off (nothing was missed).

        Loading after the stream is open, not before, means no event falls between the two.
        """
        # ApiScreen.on_watch_opened runs too: Textual calls the handler of every class.
        if not message.resumed:
            self.load_jobs(self.table.state_filter)

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        """Show a page, unless the filter changed since it was asked for."""
        if message.state != self.table.state_filter:
            return
        if message.append:
            self.table.add_page(message.jobs, message.next_page_token)
            if self._jump_to is not None and self._jump_to < self.table.row_count:
                self.table.move_cursor(row=self._jump_to, scroll=True)
        else:
            self.table.show_page(message.jobs, message.next_page_token)
        self._jump_to = None
        self._follow_cursor()

    def on_job_loaded(self, message: JobLoaded) -> None:
        """Show the job if it is still the selected one."""
        selected = self.table.selected_job()
        if selected is not None and selected.id == message.job.id:
            self.detail.show(message.job, message.slices)
            self.table.upsert(message.job)

    def on_job_event_received(self, message: JobEventReceived) -> None:
        """Update the job's row and, if it is the one shown, the detail pane."""
        event = message.event
        if event.kind == jobs_pb2.JOB_EVENT_KIND_JOB_DELETED:
            self.table.remove_job(event.job_id)
            self.detail.show_deleted(event.job)
            return
        if event.kind not in (
            jobs_pb2.JOB_EVENT_KIND_JOB_STATE,
            jobs_pb2.JOB_EVENT_KIND_SLICE_PROGRESS,
        ):
            return
        self.table.upsert(event.job)
        if event.job_id != self.detail.job_id:
            return
        shown = self.detail.job
        self.detail.show_job(event.job)
        if event.kind == jobs_pb2.JOB_EVENT_KIND_SLICE_PROGRESS:
            if not self.detail.show_slice(event.slice):
                self.load_job(event.job_id)  # a slice we have not seen: planned anew
        elif shown is not None and (
            shown.slices_total != event.job.slices_total or shown.state != event.job.state
        ):
            # A new plan, or a new attempt (a retry): the slices shown are out of date.
            self.load_job(event.job_id)

    def on_job_action_done(self, message: JobActionDone) -> None:
        """Show the job after the action and say what happened."""
        job = message.job
        if message.verb == "deleted":
            self.table.remove_job(job.id)
            self.detail.show_deleted(job)
            self.notify(
                f"Job {job.id} deleted: the next scan queues {job.source} again.", markup=False
            )
        else:
            self.table.upsert(job)
            self.detail.show_job(job)
            self.load_job(job.id)  # its slices changed too (a retry starts over)
            self.notify(f"Job {job.id} {message.verb}.")

    def on_scan_done(self, message: ScanDone) -> None:
        """Tell what the scan found."""
        self.notify(f"Scan finished: {scan_summary(message.response)}.", title="Scan")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the highlighted job; near the end of the rows, load the next page."""
        self._follow_cursor()

    # Connection state.

    def connection_lost(self, reason: str) -> None:
        """Say so in the header."""
        self.header.show_disconnected(reason)

    def connection_restored(self) -> None:
        """Reload what may have changed while the server was away."""
        self.load_jobs(self.table.state_filter)

    def connection_refused(self, reason: str) -> None:
        """Say in the header why nothing loads (a missing or wrong token)."""
        self.header.show_refused(reason)

    # Actions.

    def action_filter(self, state: int) -> None:
        """Show only jobs in ``state`` (0: every state), from the first page."""
        self.table.state_filter = state
        self.table.show_page([], "")
        self.detail.clear_job()
        self.load_jobs(state)

    def action_next_page(self) -> None:
        """Move to the next page, loading it if it is not loaded yet."""
        size = self.client.settings.page_size
        target = (self.table.cursor_row // size + 1) * size
        if target < self.table.row_count:
            self.table.move_cursor(row=target, scroll=True)
        elif self.table.next_page_token:
            self._jump_to = target
            self.load_jobs(self.table.state_filter, self.table.next_page_token)
        else:
            self.notify("This is the last page.", timeout=3)

    def action_previous_page(self) -> None:
        """Move to the start of the previous page."""
        size = self.client.settings.page_size
        self.table.move_cursor(row=max(0, (self.table.cursor_row // size - 1) * size), scroll=True)

    def action_cancel(self) -> None:
        """Cancel the selected job, after confirming."""
        job = self._selected()
        if job is None:
            return
        question = f"Cancel job {job.id} ({state_name(job.state)})?"
        explanation = f"{job.source}\nIts work files are removed and nothing is published."

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.cancel_job(job.id)

        self.app.push_screen(ConfirmScreen(question, explanation), confirmed)

    def action_retry(self) -> None:
        """Queue the selected job again."""
        job = self._selected()
        if job is not None:
            self.retry_job(job.id)

    def action_delete(self) -> None:
        """Delete the selected job's history entry, after confirming."""
        job = self._selected()
        if job is None:
            return
        question = f"Delete the history entry of job {job.id} ({state_name(job.state)})?"
        explanation = (
            f"{job.source}\nclustercode forgets this file was handled: the next scan queues "
            "it again. The output file, if any, stays."
        )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.delete_job(job.id)

        self.app.push_screen(ConfirmScreen(question, explanation), confirmed)

    def action_scan(self) -> None:
        """Scan the library now."""
        self.notify("Scanning the library...", timeout=3)
        self.scan_library()

    # Helpers.

    def _selected(self) -> jobs_pb2.Job | None:
        job = self.table.selected_job()
        if job is None:
            self.notify("No job selected.", severity="warning", timeout=3)
        return job

    def _follow_cursor(self) -> None:
        job = self.table.selected_job()
        if job is None:
            return
        if job.id != self.detail.job_id:
            self.detail.clear_job(f"Loading job {job.id}...")
            self.load_job(job.id)
        at_end = self.table.cursor_row >= self.table.row_count - 1
        if at_end and self.table.next_page_token:
            self.load_jobs(self.table.state_filter, self.table.next_page_token)
