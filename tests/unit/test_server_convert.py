"""Model -> protobuf conversions: every field carried, every enum member mapped, request checks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clustercode.api.v1 import jobs_pb2, library_pb2
from clustercode.errors import InvalidArgumentError
from clustercode.jobs.views import ScanProgress, ScanReport, SchedulerPause, Status
from clustercode.models import Decision, DecisionKind, Job, JobEvent, JobState, SliceProgress
from clustercode.server import convert


def full_job(state: JobState = JobState.RUNNING) -> Job:
    return Job(
        id="abc123",
        source="/lib/a b/ü.mkv",
        fingerprint="123:ff00",
        profile="hevc",
        profile_hash="deadbeef",
        output="/out/ü.mkv",
        state=state,
        priority=-3,
        created_at=1_700_000_000.123456,
        started_at=1_700_000_010.5,
        finished_at=None,
        slices_total=8,
        slices_done=3,
        frames_total=14_400,
        frames_done=5_000,
        size_before=3_000_000_000,
        size_after=0,
        attempts=2,
        error="slice 3: decode error",
        run_id="cc-abc123-2",
        executor="local",
    )


@pytest.mark.parametrize("state", list(JobState))
def test_job_round_trip(state: JobState) -> None:
    job = full_job(state)
    message = jobs_pb2.Job.FromString(convert.job_to_proto(job).SerializeToString())
    plain = {
        "id": message.id, "source": message.source, "fingerprint": message.fingerprint,
        "profile": message.profile, "profile_hash": message.profile_hash,
        "output": message.output, "priority": message.priority,
        "slices_total": message.slices_total, "slices_done": message.slices_done,
        "frames_total": message.frames_total, "frames_done": message.frames_done,
        "size_before": message.size_before, "size_after": message.size_after,
        "attempts": message.attempts, "error": message.error, "run_id": message.run_id,
        "executor": message.executor,
    }  # fmt: skip
    assert plain == {k: getattr(job, k) for k in plain}
    assert message.state == convert.job_state_to_proto(state)
    assert message.create_time.ToMicroseconds() == 1_700_000_000_123_456
    assert message.start_time.ToMilliseconds() == 1_700_000_010_500


def test_job_times_unset_when_missing() -> None:
    message = convert.job_to_proto(full_job())
    assert message.HasField("create_time") and message.HasField("start_time")
    assert not message.HasField("finish_time")
    assert message.create_time.seconds == 1_700_000_000
    assert message.create_time.nanos == 123_456_000
    bare = convert.job_to_proto(
        Job(id="x", source="", fingerprint="", profile="", profile_hash="", output="")
    )
    assert not bare.HasField("create_time")


def test_every_job_state_has_a_distinct_value() -> None:
    values = {convert.job_state_to_proto(s) for s in JobState}
    assert len(values) == len(JobState)
    assert jobs_pb2.JOB_STATE_UNSPECIFIED not in values
    assert set(jobs_pb2.JobState.values()) - values == {jobs_pb2.JOB_STATE_UNSPECIFIED}


def test_job_state_filter() -> None:
    assert convert.job_state_from_proto(jobs_pb2.JOB_STATE_UNSPECIFIED) is None
    assert convert.job_state_from_proto(jobs_pb2.JOB_STATE_PARKED) is JobState.PARKED
    with pytest.raises(InvalidArgumentError) as caught:
        convert.job_state_from_proto(42)
    assert caught.value.field == "state"


@pytest.mark.parametrize("state", ["pending", "running", "succeeded", "failed"])
def test_slice_round_trip(state: str) -> None:
    progress = SliceProgress(
        index=4, frames_total=300, frames_done=120, state=state, attempts=1, fps=61.25, message="m"
    )
    message = convert.slice_to_proto(progress)
    assert (message.index, message.frames_total, message.frames_done) == (4, 300, 120)
    assert (message.attempts, message.fps, message.message) == (1, 61.25, "m")
    assert message.state == getattr(jobs_pb2, f"SLICE_STATE_{state.upper()}")


def test_unknown_slice_state_is_unspecified() -> None:
    message = convert.slice_to_proto(SliceProgress(index=0, frames_total=1, state="exploded"))
    assert message.state == jobs_pb2.SLICE_STATE_UNSPECIFIED


@pytest.mark.parametrize("kind", ["state", "slice", "deleted"])
def test_event_round_trip(kind: str) -> None:
    progress = SliceProgress(index=1, frames_total=10, frames_done=5, state="running")
    event = JobEvent(
        id="1700000000000-3",
        job_id="abc123",
        kind=kind,
        job=full_job(),
        slice=progress if kind == "slice" else None,
        time=1_700_000_020.25,
    )
    message = convert.event_to_proto(event)
    assert message.HasField("slice") is (kind == "slice")
    assert message.event_id == "1700000000000-3" and message.job_id == "abc123"
    assert message.kind == convert.EVENT_KINDS[kind]
    assert message.job == convert.job_to_proto(full_job())
    assert message.time.ToMilliseconds() == 1_700_000_020_250
    if kind == "slice":
        assert message.slice == convert.slice_to_proto(progress)


def test_event_kinds_cover_the_enum() -> None:
    assert set(convert.EVENT_KINDS.values()) == set(jobs_pb2.JobEventKind.values()) - {
        jobs_pb2.JOB_EVENT_KIND_UNSPECIFIED
    }


@pytest.mark.parametrize("kind", list(DecisionKind))
def test_decision_round_trip(kind: DecisionKind) -> None:
    decision = Decision(path="/lib/x.mkv", kind=kind, reason="why", profile="p", job_id="j")
    message = convert.decision_to_proto(decision)
    assert (message.path, message.reason, message.profile, message.job_id) == (
        "/lib/x.mkv",
        "why",
        "p",
        "j",
    )
    assert message.kind == getattr(library_pb2, f"DECISION_KIND_{kind.name}")


def test_every_decision_kind_maps() -> None:
    values = {
        convert.decision_to_proto(Decision(path="", kind=k, reason="")).kind for k in DecisionKind
    }
    assert values == set(library_pb2.DecisionKind.values()) - {
        library_pb2.DECISION_KIND_UNSPECIFIED
    }


@pytest.mark.parametrize(
    ("asked", "used"), [(0, 50), (1, 1), (50, 50), (1000, 1000), (1001, 1000), (2**31 - 1, 1000)]
)
def test_page_size(asked: int, used: int) -> None:
    assert convert.page_size_from(asked) == used


@pytest.mark.parametrize(("asked", "used"), [(0, 1000), (7, 7), (10_000, 10_000), (99_999, 10_000)])
def test_max_decisions(asked: int, used: int) -> None:
    assert convert.max_decisions_from(asked) == used


@pytest.mark.parametrize(
    ("function", "field"),
    [(convert.page_size_from, "page_size"), (convert.max_decisions_from, "max_decisions")],
)
def test_negative_sizes_name_the_field(function: object, field: str) -> None:
    assert callable(function)
    with pytest.raises(InvalidArgumentError, match=f"^{field}: must not be negative") as caught:
        function(-1)
    assert caught.value.field == field


def test_required() -> None:
    assert convert.required("x", "path") == "x"
    with pytest.raises(InvalidArgumentError, match=r"^job_id: is required$"):
        convert.required("", "job_id")


def test_status_carries_scan_progress_and_counts_cover_dropped_decisions() -> None:
    report = ScanReport(keep=2)
    for n in range(5):
        report.add(Decision(path=f"/l/{n}.mkv", kind=DecisionKind.DONE, reason="done"))
    report.queued = 1
    report.stats.files, report.stats.dirs, report.stats.directory = 5, 2, "/l/x"
    progress = ScanProgress.of(report)
    status = Status(
        version="1", executor="local", executor_error="", redis_error="", queue_depth=0,
        active_jobs=0, scan=progress,
    )  # fmt: skip
    message = convert.status_to_proto(status).scan
    assert (message.running, message.files_seen, message.directories_seen) == (True, 5, 2)
    assert (message.files_decided, message.jobs_queued) == (5, 1)
    assert message.current_directory == "/l/x" and message.elapsed_seconds >= 0
    assert not convert.status_to_proto(replace(status, scan=None)).HasField("scan")
    scan = convert.scan_to_proto(report, 10)
    assert len(scan.decisions) == 2 and scan.decisions_truncated
    assert {c.kind: c.count for c in scan.counts}[library_pb2.DECISION_KIND_DONE] == 5


def test_status_carries_the_schedulers_pause_only_while_paused() -> None:
    status = Status(
        version="1", executor="local", executor_error="", redis_error="", queue_depth=3,
        active_jobs=0,
    )  # fmt: skip
    assert not convert.status_to_proto(status).HasField("pause")
    pause = SchedulerPause(reason="no usable ffmpeg", next_try=1_700_000_030.25, pauses=1)
    message = convert.status_to_proto(replace(status, pause=pause)).pause
    assert message.reason == "no usable ffmpeg"
    assert message.next_try_time.seconds == 1_700_000_030
    assert message.next_try_time.nanos == 250_000_000
    assert message.pauses == 1
