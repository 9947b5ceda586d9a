"""The control plane's own value types. Protobuf types stop at the gRPC servicer; Redis stores
these as JSON; everything in between speaks these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PARKED = "parked"

    @property
    def final(self) -> bool:
        """Whether the job will not change again without a user's request."""
        return self in (JobState.SUCCEEDED, JobState.CANCELLED, JobState.PARKED)


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceProgress:
    """One slice of a job: frames encoded so far, attempts, speed."""

    index: int
    frames_total: int
    frames_done: int = 0
    state: str = "pending"  # pending, running, succeeded, failed
    attempts: int = 0
    fps: float = 0.0
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One transcode of one source file under one profile.

    Attributes:
        id: short unique id.
        source: absolute path of the source file.
        fingerprint: content key (size plus a hash of sampled blocks).
        profile: profile name.
        profile_hash: hash of the effective profile settings.
        output: absolute path the verified output is published at.
        run_id: the executor's workflow name for the current attempt.
        priority: higher runs first.
        root: the library root that holds the source.
        settings: the effective encode settings (``EncodeSettings.to_json()``) fixed at queue time.
        runs: workflows started for this job so far; never reset, so every run has a new
            workflow name (``attempts`` is reset by a retry, ``runs`` is not). Every change a
            run's follower makes is conditional on this number (see ``History.set_state``).
        source_identity: the source's identity when the current run started, JSON of
            :class:`pipelines.identity.SourceIdentity` (size, mtime_ns, ino, fingerprint).
    """

    id: str
    source: str
    fingerprint: str
    profile: str
    profile_hash: str
    output: str
    state: JobState = JobState.QUEUED
    priority: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    slices_total: int = 0
    slices_done: int = 0
    frames_total: int = 0
    frames_done: int = 0
    size_before: int = 0
    size_after: int = 0
    attempts: int = 0
    error: str = ""
    run_id: str = ""
    executor: str = ""
    root: str = ""
    settings: str = ""
    runs: int = 0
    source_identity: str = ""


class DecisionKind(StrEnum):
    """What a scan decided for one file."""

    NEW = "new"
    DONE = "done"
    SKIPPED = "skipped"
    PARKED = "parked"
    QUEUED = "queued"
    RUNNING = "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """One scanned file and what becomes of it, with the reason a user can read."""

    path: str
    kind: DecisionKind
    reason: str
    profile: str = ""
    job_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEvent:
    """An entry of the event stream that feeds watchers.

    Attributes:
        id: the stream id (resumable position).
        job_id: the job the event is about.
        kind: ``state`` (job changed state) or ``slice`` (slice progress).
        job: the job after the change.
        slice: the slice, for ``slice`` events.
        time: unix time of the event.
    """

    id: str
    job_id: str
    kind: str
    job: Job
    slice: SliceProgress | None = None
    time: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)
