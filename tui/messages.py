"""What the API workers post back to the screen: one small message per kind of result."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from clustercode.api.v1 import jobs_pb2, service_pb2

__all__ = [
    "JobActionDone",
    "JobEventReceived",
    "JobLoaded",
    "JobsLoaded",
    "ScanDone",
    "StatusLoaded",
    "WatchOpened",
]


class StatusLoaded(Message):
    """GetStatus answered."""

    def __init__(self, status: service_pb2.GetStatusResponse) -> None:
        """Carry the server's status."""
        super().__init__()
        self.status = status


class JobsLoaded(Message):
    """ListJobs returned one page."""

    def __init__(
        self, *, state: int, jobs: Sequence[jobs_pb2.Job], next_page_token: str, append: bool
    ) -> None:
        """Carry the page.

        Args:
            state: the state filter the page was asked for (a page of an old filter is stale).
            jobs: the page's jobs, in the server's order.
            next_page_token: token of the next page; empty on the last page.
            append: whether the page continues the table rather than replacing it.
        """
        super().__init__()
        self.state = state
        self.jobs = list(jobs)
        self.next_page_token = next_page_token
        self.append = append


class JobLoaded(Message):
    """GetJob returned a job and its slices."""

    def __init__(self, job: jobs_pb2.Job, slices: Sequence[jobs_pb2.Slice]) -> None:
        """Carry the job and its slices in index order."""
        super().__init__()
        self.job = job
        self.slices = list(slices)


class WatchOpened(Message):
    """The WatchJobs stream is open: the server is reachable and events flow from here on."""

    def __init__(self, *, resumed: bool) -> None:
        """Tell whether the stream resumed after a known event (nothing was missed)."""
        super().__init__()
        self.resumed = resumed


class JobEventReceived(Message):
    """One event of the WatchJobs stream."""

    def __init__(self, event: jobs_pb2.JobEvent) -> None:
        """Carry the event."""
        super().__init__()
        self.event = event


class JobActionDone(Message):
    """CancelJob, RetryJob or DeleteJob succeeded."""

    def __init__(self, *, verb: str, job: jobs_pb2.Job) -> None:
        """Carry what was done (``cancelled``, ``retried``, ``deleted``) and the job after it."""
        super().__init__()
        self.verb = verb
        self.job = job


class ScanDone(Message):
    """ScanLibrary finished."""

    def __init__(self, response: service_pb2.ScanLibraryResponse) -> None:
        """Carry the scan's counts."""
        super().__init__()
        self.response = response
