"""What the gRPC server needs from the control plane, as a structural type.

The servicer depends on this protocol, not on the controller class, so the server can be built
and tested against any object with the same methods; :class:`clustercode.jobs.Controller` is the
real one. The answers are the control plane's own value types (:mod:`clustercode.jobs.views`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from clustercode.jobs.views import Explanation, ProfileSummary, ScanReport, Status
from clustercode.models import Job, JobEvent, JobState, SliceProgress

__all__ = ["ControlPlane"]


class ControlPlane(Protocol):
    """The operations the API exposes, in the control plane's own types.

    Errors are ``clustercode.errors`` classes; the servicer maps them to status codes.
    """

    async def status(self) -> Status:
        """Report versions, health and job counts."""

    async def scan(self) -> ScanReport:
        """Scan the library now and queue new files."""

    async def submit(
        self,
        path: str,
        *,
        profile: str | None = None,
        priority: int | None = None,
        force: bool = False,
    ) -> Job:
        """Queue one file (a path relative to a library root or absolute inside one)."""

    async def explain(self, path: str) -> Explanation:
        """Explain what would happen to one file."""

    async def list_jobs(
        self, *, state: JobState | None, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        """Return one page of jobs and the next page's token ("" on the last page)."""

    async def get_job(self, job_id: str) -> tuple[Job, list[SliceProgress]]:
        """Return a job and its slices."""

    def watch(self, *, job_id: str | None, after: str) -> AsyncIterator[JobEvent]:
        """Yield events after the event id ``after`` ("" = new events only, "0" = oldest kept)."""

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job."""

    async def retry(self, job_id: str) -> Job:
        """Queue a failed, cancelled or parked job again."""

    async def delete(self, job_id: str) -> Job:
        """Delete a job's history entry; return its last record."""

    async def list_profiles(self) -> Sequence[ProfileSummary]:
        """Return the named profiles."""
