"""What the gRPC server needs from the control plane, as structural types.

The servicer depends on these protocols, not on the control plane's classes, so the server can be
built and tested against any object with the same methods; ``clustercode.service.Controller``
is the real one. The result types are read-only views: frozen dataclasses with these fields
satisfy them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from clustercode.models import Decision, DecisionKind, Job, JobEvent, JobState, SliceProgress

__all__ = [
    "ControlPlane",
    "ExplanationView",
    "ProfileView",
    "ScanReportView",
    "StatusView",
]


class StatusView(Protocol):
    """The control plane's status: versions, health and job counts."""

    @property
    def version(self) -> str:
        """clustercode version."""

    @property
    def executor(self) -> str:
        """Name of the executor."""

    @property
    def executor_error(self) -> str:
        """Why the executor is unhealthy; empty when it is healthy."""

    @property
    def redis_error(self) -> str:
        """Why Redis is unhealthy; empty when it is healthy."""

    @property
    def queue_depth(self) -> int:
        """Number of queued jobs."""

    @property
    def active_jobs(self) -> int:
        """Number of running jobs."""

    @property
    def counts(self) -> Mapping[JobState, int]:
        """Number of jobs per state; missing states count 0."""


class ScanReportView(Protocol):
    """What one scan decided."""

    @property
    def decisions(self) -> Sequence[Decision]:
        """One decision per file."""

    @property
    def counts(self) -> Mapping[DecisionKind, int]:
        """Number of files per decision kind."""


class ExplanationView(Protocol):
    """What would happen to one file, and which files decided it."""

    @property
    def path(self) -> str:
        """Absolute path of the file."""

    @property
    def profile(self) -> str:
        """Name of the profile that applies."""

    @property
    def origins(self) -> Mapping[str, str]:
        """Profile setting -> the file that decided it."""

    @property
    def output(self) -> str:
        """Where the output would be published."""

    @property
    def decision(self) -> Decision:
        """What a scan would decide now."""

    @property
    def skip_reason(self) -> str:
        """Why the file would be skipped; empty if it would not."""

    @property
    def slices(self) -> int:
        """Number of slices of the plan."""

    @property
    def frames(self) -> int:
        """Number of video frames."""

    @property
    def values(self) -> Mapping[str, str]:
        """Profile setting -> its effective value as text."""

    @property
    def duration(self) -> float:
        """Duration in seconds."""


class ProfileView(Protocol):
    """A named profile as the API lists it."""

    @property
    def name(self) -> str:
        """The profile's name."""

    @property
    def origin(self) -> str:
        """The file that defines it."""

    @property
    def container(self) -> str:
        """Output container."""

    @property
    def video(self) -> Sequence[str]:
        """ffmpeg video encoder arguments."""

    @property
    def audio(self) -> Sequence[str] | None:
        """ffmpeg audio arguments, or None when audio is copied."""

    @property
    def slice_seconds(self) -> float:
        """Target slice length."""

    @property
    def priority(self) -> int:
        """Priority of its jobs."""

    @property
    def description(self) -> str:
        """What the profile is for."""


class ControlPlane(Protocol):
    """The operations the API exposes, in the control plane's own types.

    Errors are ``clustercode.errors`` classes; the servicer maps them to status codes.
    """

    async def status(self) -> StatusView:
        """Report versions, health and job counts."""

    async def scan(self) -> ScanReportView:
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

    async def explain(self, path: str) -> ExplanationView:
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

    async def list_profiles(self) -> Sequence[ProfileView]:
        """Return the named profiles."""
