"""A screen whose backend calls run as workers, with the one handler for their failures.

Every RPC is an ``@work(exclusive=True)`` async worker in its own group (a new call of a kind
replaces a running one of the same kind) that posts a message from :mod:`tui.messages` on
success. Failures are not caught in the workers: they end the worker in the ERROR state and
:meth:`ApiScreen.on_worker_state_changed` turns them into a notification, marks the server
disconnected when it cannot be reached, and reopens the WatchJobs stream with backoff.
"""

from __future__ import annotations

import logging

from textual import work
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from tui.client import (
    ApiClient,
    describe_error,
    is_timeout,
    is_unauthenticated,
    is_unreachable,
)
from tui.messages import (
    JobActionDone,
    JobEventReceived,
    JobLoaded,
    JobsLoaded,
    ScanDone,
    StatusLoaded,
    WatchOpened,
)

__all__ = ["ApiScreen"]

log = logging.getLogger(__name__)

# Calls the screen makes on its own: their failures are reported once, not on every retry.
_BACKGROUND = frozenset({"status", "watch", "page", "job"})
_NOTIFY_SECONDS = 10.0


class ApiScreen(Screen[None]):
    """Runs the RPCs of a screen and tracks whether the server is reachable.

    Subclasses react to :meth:`connection_lost` and :meth:`connection_restored`.
    """

    def __init__(self, client: ApiClient) -> None:
        """Call the server through ``client``."""
        super().__init__()
        self.client = client
        self.connected: bool | None = None  # None: no answer yet
        self.last_event_id = ""
        self._watch_failures = 0
        self._watch_worker: Worker[None] | None = None
        self._watch_timer: Timer | None = None
        self._reported: str | None = None

    # The calls. Each worker posts its result; a failure is handled by on_worker_state_changed.

    @work(exclusive=True, group="status", name="Status", exit_on_error=False)
    async def load_status(self) -> None:
        """GetStatus."""
        self.post_message(StatusLoaded(await self.client.status()))

    @work(exclusive=True, group="page", name="List jobs", exit_on_error=False)
    async def load_jobs(self, state: int, page_token: str = "") -> None:
        """ListJobs: the first page (no token) or the page after ``page_token``."""
        response = await self.client.list_jobs(state, page_token)
        self.post_message(
            JobsLoaded(
                state=state,
                jobs=response.jobs,
                next_page_token=response.next_page_token,
                append=bool(page_token),
            )
        )

    @work(exclusive=True, group="job", name="Get job", exit_on_error=False)
    async def load_job(self, job_id: str) -> None:
        """GetJob."""
        response = await self.client.get_job(job_id)
        self.post_message(JobLoaded(response.job, response.slices))

    @work(exclusive=True, group="cancel", name="Cancel job", exit_on_error=False)
    async def cancel_job(self, job_id: str) -> None:
        """CancelJob."""
        self.post_message(JobActionDone(verb="cancelled", job=await self.client.cancel(job_id)))

    @work(exclusive=True, group="retry", name="Retry job", exit_on_error=False)
    async def retry_job(self, job_id: str) -> None:
        """RetryJob."""
        self.post_message(JobActionDone(verb="queued again", job=await self.client.retry(job_id)))

    @work(exclusive=True, group="delete", name="Delete job", exit_on_error=False)
    async def delete_job(self, job_id: str) -> None:
        """DeleteJob."""
        self.post_message(JobActionDone(verb="deleted", job=await self.client.delete(job_id)))

    @work(exclusive=True, group="scan", name="Scan library", exit_on_error=False)
    async def scan_library(self) -> None:
        """ScanLibrary."""
        self.post_message(ScanDone(await self.client.scan()))

    @work(exclusive=True, group="watch", name="Watch jobs", exit_on_error=False)
    async def watch_jobs(self) -> None:
        """WatchJobs, resumed after the last event seen; runs until the stream ends."""
        after = self.last_event_id
        call = self.client.watch(after)
        try:
            # The server sends its headers once the watch is set up: from then on no event
            # is lost, so this is the moment to (re)load what the events will keep current.
            await call.initial_metadata()
            if not call.done():
                self.post_message(WatchOpened(resumed=bool(after)))
            async for response in call:
                self.last_event_id = response.event.event_id
                self.post_message(JobEventReceived(response.event))
        finally:
            call.cancel()

    def start_watch(self) -> None:
        """Open the WatchJobs stream now, unless it is open."""
        if self._watch_timer is not None:
            self._watch_timer.stop()
            self._watch_timer = None
        if self._watch_worker is None or self._watch_worker.is_finished:
            self._watch_worker = self.watch_jobs()

    # The one failure handler.

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Report a failed call; reopen the watch stream after it ends."""
        worker = event.worker
        if worker.group == "watch" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self._watch_failures += 1
            delay = self.client.settings.reconnect_delay(self._watch_failures)
            log.debug("watch stream ended (%s); reopening in %.1f s", event.state.name, delay)
            self._watch_timer = self.set_timer(delay, self.start_watch)
        if event.state is WorkerState.ERROR and worker.error is not None:
            self.report_failure(worker.name, worker.error, background=worker.group in _BACKGROUND)

    def report_failure(self, what: str, error: BaseException, *, background: bool) -> None:
        """Notify the user of a failed call: status code and details.

        A background call (status, watch, page loads) is reported once until one succeeds,
        and an unreachable server once until it answers again, so retries do not flood the
        screen; a failed user action is always reported.
        """
        text = describe_error(error, self.client.address)
        log.info("%s failed: %s", what, text)
        if is_unauthenticated(error):
            self.connection_refused(text)
        # A status call that times out means a hung server; a slow scan does not.
        if is_unreachable(error) or (background and is_timeout(error)):
            was_connected = self.connected
            self.connected = False
            self.connection_lost(text)
            if background and was_connected is False:
                return
        elif background and text == self._reported:
            return
        if background:
            self._reported = text
        self.notify(
            text, title=f"{what} failed", severity="error", timeout=_NOTIFY_SECONDS, markup=False
        )

    def on_watch_opened(self, message: WatchOpened) -> None:
        """The stream is open: the server is reachable and the backoff starts over."""
        self._watch_failures = 0
        self.mark_connected()

    def mark_connected(self) -> None:
        """A call succeeded: leave the disconnected state if in it."""
        was_connected, self.connected = self.connected, True
        self._reported = None
        if was_connected is False:
            self.notify(f"reconnected to {self.client.address}", timeout=4, markup=False)
            self.start_watch()
            self.connection_restored()

    def connection_lost(self, reason: str) -> None:
        """The server cannot be reached; the screen shows it."""

    def connection_restored(self) -> None:
        """The server answers again after it could not be reached."""

    def connection_refused(self, reason: str) -> None:
        """The server answers but refuses the calls (no token, or a wrong one)."""
