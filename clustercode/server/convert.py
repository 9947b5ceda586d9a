"""Protobuf messages <-> the control plane's own types. Protobuf stops here.

Outgoing: ``*_to_proto`` build response messages from ``clustercode.models`` values and the
control plane's result views. Incoming: request fields become plain Python values, and an invalid
one raises :class:`~clustercode.errors.InvalidArgumentError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2
from clustercode.errors import InvalidArgumentError
from clustercode.jobs.views import (
    Explanation,
    ProfileSummary,
    ScanProgress,
    ScanReport,
    SchedulerPause,
    Status,
)
from clustercode.models import Decision, DecisionKind, Job, JobEvent, JobState, SliceProgress

__all__ = [
    "DEFAULT_MAX_DECISIONS",
    "DEFAULT_PAGE_SIZE",
    "EVENT_KINDS",
    "MAX_DECISIONS",
    "MAX_PAGE_SIZE",
    "decision_to_proto",
    "event_to_proto",
    "explanation_to_proto",
    "job_state_from_proto",
    "job_state_to_proto",
    "job_to_proto",
    "max_decisions_from",
    "page_size_from",
    "profile_to_proto",
    "required",
    "scan_progress_to_proto",
    "scan_to_proto",
    "scheduler_pause_to_proto",
    "slice_to_proto",
    "status_to_proto",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
DEFAULT_MAX_DECISIONS = 1000
MAX_DECISIONS = 10_000

_JOB_STATES: Mapping[JobState, jobs_pb2.JobState] = {
    JobState.QUEUED: jobs_pb2.JOB_STATE_QUEUED,
    JobState.RUNNING: jobs_pb2.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: jobs_pb2.JOB_STATE_SUCCEEDED,
    JobState.FAILED: jobs_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: jobs_pb2.JOB_STATE_CANCELLED,
    JobState.PARKED: jobs_pb2.JOB_STATE_PARKED,
}
_JOB_STATES_BACK: Mapping[int, JobState] = {int(v): k for k, v in _JOB_STATES.items()}

# SliceProgress.state is a plain string; anything else shows as UNSPECIFIED.
_SLICE_STATES: Mapping[str, jobs_pb2.SliceState] = {
    "pending": jobs_pb2.SLICE_STATE_PENDING,
    "running": jobs_pb2.SLICE_STATE_RUNNING,
    "succeeded": jobs_pb2.SLICE_STATE_SUCCEEDED,
    "failed": jobs_pb2.SLICE_STATE_FAILED,
}

# JobEvent.kind strings of the event stream.
EVENT_KINDS: Mapping[str, jobs_pb2.JobEventKind] = {
    "state": jobs_pb2.JOB_EVENT_KIND_JOB_STATE,
    "slice": jobs_pb2.JOB_EVENT_KIND_SLICE_PROGRESS,
    "deleted": jobs_pb2.JOB_EVENT_KIND_JOB_DELETED,
}

_DECISION_KINDS: Mapping[DecisionKind, library_pb2.DecisionKind] = {
    DecisionKind.NEW: library_pb2.DECISION_KIND_NEW,
    DecisionKind.DONE: library_pb2.DECISION_KIND_DONE,
    DecisionKind.SKIPPED: library_pb2.DECISION_KIND_SKIPPED,
    DecisionKind.PARKED: library_pb2.DECISION_KIND_PARKED,
    DecisionKind.QUEUED: library_pb2.DECISION_KIND_QUEUED,
    DecisionKind.RUNNING: library_pb2.DECISION_KIND_RUNNING,
}


def _timestamp(seconds: float | None) -> Timestamp | None:
    # The models use 0.0 or None for "not yet"; both leave the field unset.
    if not seconds:
        return None
    stamp = Timestamp()
    stamp.FromMicroseconds(round(seconds * 1_000_000))
    return stamp


# --- requests -----------------------------------------------------------------------------------


def required(value: str, field: str) -> str:
    """Return a required string field, or raise InvalidArgumentError naming it when empty."""
    if not value:
        raise InvalidArgumentError(field, "is required")
    return value


def page_size_from(value: int) -> int:
    """Return the page size a ListJobs request asks for: 0 means the default, large is capped."""
    if value < 0:
        raise InvalidArgumentError("page_size", f"must not be negative (got {value})")
    if value == 0:
        return DEFAULT_PAGE_SIZE
    return min(value, MAX_PAGE_SIZE)


def max_decisions_from(value: int) -> int:
    """Return how many decisions a ScanLibrary response carries: 0 means the default."""
    if value < 0:
        raise InvalidArgumentError("max_decisions", f"must not be negative (got {value})")
    if value == 0:
        return DEFAULT_MAX_DECISIONS
    return min(value, MAX_DECISIONS)


def job_state_from_proto(value: int) -> JobState | None:
    """Return the state a request filters on; None for JOB_STATE_UNSPECIFIED (every state)."""
    if value == jobs_pb2.JOB_STATE_UNSPECIFIED:
        return None
    state = _JOB_STATES_BACK.get(value)
    if state is None:
        raise InvalidArgumentError("state", f"unknown job state {value}")
    return state


# --- jobs ---------------------------------------------------------------------------------------


def job_state_to_proto(state: JobState) -> jobs_pb2.JobState:
    """Return the API value of a job state."""
    return _JOB_STATES[state]


def job_to_proto(job: Job) -> jobs_pb2.Job:
    """Return the API message of a job."""
    return jobs_pb2.Job(
        id=job.id,
        source=job.source,
        fingerprint=job.fingerprint,
        profile=job.profile,
        profile_hash=job.profile_hash,
        output=job.output,
        state=job_state_to_proto(job.state),
        priority=job.priority,
        create_time=_timestamp(job.created_at),
        start_time=_timestamp(job.started_at),
        finish_time=_timestamp(job.finished_at),
        slices_total=job.slices_total,
        slices_done=job.slices_done,
        frames_total=job.frames_total,
        frames_done=job.frames_done,
        size_before=job.size_before,
        size_after=job.size_after,
        attempts=job.attempts,
        error=job.error,
        run_id=job.run_id,
        executor=job.executor,
    )


def slice_to_proto(progress: SliceProgress) -> jobs_pb2.Slice:
    """Return the API message of a slice's progress."""
    return jobs_pb2.Slice(
        index=progress.index,
        frames_total=progress.frames_total,
        frames_done=progress.frames_done,
        state=_SLICE_STATES.get(progress.state, jobs_pb2.SLICE_STATE_UNSPECIFIED),
        attempts=progress.attempts,
        fps=progress.fps,
        message=progress.message,
    )


def event_to_proto(event: JobEvent) -> jobs_pb2.JobEvent:
    """Return the API message of an event; an unknown kind shows as UNSPECIFIED."""
    return jobs_pb2.JobEvent(
        event_id=event.id,
        kind=EVENT_KINDS.get(event.kind, jobs_pb2.JOB_EVENT_KIND_UNSPECIFIED),
        job_id=event.job_id,
        job=job_to_proto(event.job),
        slice=slice_to_proto(event.slice) if event.slice is not None else None,
        time=_timestamp(event.time),
    )


# --- library ------------------------------------------------------------------------------------


def decision_to_proto(decision: Decision) -> library_pb2.Decision:
    """Return the API message of a scan decision."""
    return library_pb2.Decision(
        path=decision.path,
        kind=_DECISION_KINDS[decision.kind],
        reason=decision.reason,
        profile=decision.profile,
        job_id=decision.job_id,
    )


def profile_to_proto(profile: ProfileSummary) -> library_pb2.Profile:
    """Return the API message of a profile; audio None means copy."""
    return library_pb2.Profile(
        name=profile.name,
        origin=profile.origin,
        container=profile.container,
        video_args=list(profile.video),
        audio_copy=profile.audio is None,
        audio_args=list(profile.audio or ()),
        slice_seconds=profile.slice_seconds,
        priority=profile.priority,
        description=profile.description,
    )


# --- responses ----------------------------------------------------------------------------------


def status_to_proto(status: Status) -> service_pb2.GetStatusResponse:
    """Return the GetStatus response; job counts list every state, in lifecycle order."""
    return service_pb2.GetStatusResponse(
        version=status.version,
        executor=status.executor,
        executor_healthy=not status.executor_error,
        executor_message=status.executor_error,
        redis_healthy=not status.redis_error,
        redis_message=status.redis_error,
        queue_depth=status.queue_depth,
        active_jobs=status.active_jobs,
        job_counts=[
            jobs_pb2.JobStateCount(state=value, count=status.counts.get(state, 0))
            for state, value in _JOB_STATES.items()
        ],
        scan=scan_progress_to_proto(status.scan) if status.scan is not None else None,
        pause=scheduler_pause_to_proto(status.pause) if status.pause is not None else None,
    )


def scheduler_pause_to_proto(pause: SchedulerPause) -> jobs_pb2.SchedulerPause:
    """Return why the scheduler starts no job for now, and when it tries again."""
    return jobs_pb2.SchedulerPause(
        reason=pause.reason, next_try_time=_timestamp(pause.next_try), pauses=pause.pauses
    )


def scan_progress_to_proto(progress: ScanProgress) -> library_pb2.ScanProgress:
    """Return the progress of a library scan as GetStatus shows it."""
    return library_pb2.ScanProgress(
        running=progress.running,
        files_seen=progress.files,
        directories_seen=progress.directories,
        files_per_second=progress.files_per_second,
        current_directory=progress.directory,
        files_decided=progress.decided,
        jobs_queued=progress.queued,
        elapsed_seconds=progress.seconds,
    )


def scan_to_proto(report: ScanReport, max_decisions: int) -> service_pb2.ScanLibraryResponse:
    """Return the ScanLibrary response with at most max_decisions decisions, every kind counted."""
    decisions = report.decisions[:max_decisions]
    return service_pb2.ScanLibraryResponse(
        counts=[
            library_pb2.DecisionCount(kind=value, count=report.counts.get(kind, 0))
            for kind, value in _DECISION_KINDS.items()
        ],
        decisions=[decision_to_proto(d) for d in decisions],
        decisions_truncated=report.decided > len(decisions),
    )


def explanation_to_proto(explanation: Explanation) -> service_pb2.ExplainFileResponse:
    """Return the ExplainFile response."""
    return service_pb2.ExplainFileResponse(
        path=explanation.path,
        profile=explanation.profile,
        origins=dict(explanation.origins),
        output=explanation.output,
        decision=decision_to_proto(explanation.decision),
        skip_reason=explanation.skip_reason,
        slices=explanation.slices,
        frames=explanation.frames,
        values=dict(explanation.values),
        duration_seconds=explanation.duration,
    )
