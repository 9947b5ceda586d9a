"""ServiceMetrics: what each kind of event adds, read back from the registry."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from clustercode.jobs.views import ScanReport
from clustercode.library import ScanStats
from clustercode.models import Job, JobEvent, JobState, SliceProgress
from clustercode.server.metrics import ServiceMetrics

JOB = Job(id="j1", source="/lib/a.mkv", fingerprint="f", profile="h264", profile_hash="h",
          output="/out/a.mkv")  # fmt: skip


def value(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, name
    return found


def state(job: Job, new: JobState, old: JobState, **changes: Any) -> JobEvent:
    job = replace(job, state=new, **changes)
    return JobEvent(id="1-0", job_id=job.id, kind="state", job=job, extra={"from": old.value})


def piece(index: int, done: int, status: str, fps: float = 0.0) -> JobEvent:
    progress = SliceProgress(index=index, frames_total=100, frames_done=done, state=status, fps=fps)
    return JobEvent(id="1-0", job_id=JOB.id, kind="slice", job=JOB, slice=progress)


def test_slices_frames_and_speed() -> None:
    metrics = ServiceMetrics()
    metrics.observe_event(state(JOB, JobState.RUNNING, JobState.QUEUED))
    for event in (
        piece(0, 40, "running", fps=20.0),
        piece(1, 10, "running", fps=15.5),
        piece(0, 100, "succeeded"),
        piece(0, 100, "succeeded"),  # repeated: counted once
        piece(1, 0, "running", fps=1.0),  # slice 1 retried from its start
        piece(1, 100, "succeeded"),
    ):
        metrics.observe_event(event)
        if event.slice is not None and event.slice.index == 1 and event.slice.frames_done == 0:
            assert value(metrics, "clustercode_encode_fps") == 1.0
    assert value(metrics, "clustercode_slices_encoded_total") == 2
    # 100 of slice 0, then 10 + 100 of slice 1 (its first try's 10 frames were encoded too).
    assert value(metrics, "clustercode_frames_encoded_total") == 210
    assert value(metrics, "clustercode_encode_fps") == 0
    assert value(metrics, "clustercode_job_attempts_total") == 1


def test_success_counts_bytes_and_ends_the_jobs_speed() -> None:
    metrics = ServiceMetrics()
    metrics.observe_event(state(JOB, JobState.RUNNING, JobState.QUEUED))
    metrics.observe_event(piece(0, 50, "running", fps=30.0))
    assert value(metrics, "clustercode_encode_fps") == 30.0
    metrics.observe_event(
        state(JOB, JobState.SUCCEEDED, JobState.RUNNING, size_before=1000, size_after=400)
    )
    grown = replace(JOB, id="j2")
    metrics.observe_event(
        state(grown, JobState.SUCCEEDED, JobState.RUNNING, size_before=100, size_after=150)
    )
    assert value(metrics, "clustercode_encode_fps") == 0
    assert value(metrics, "clustercode_bytes_in_total") == 1100
    assert value(metrics, "clustercode_bytes_out_total") == 550
    assert value(metrics, "clustercode_bytes_saved") == 550
    assert value(metrics, "clustercode_job_transitions_total", state="succeeded") == 2
    # A record created as it is (no "from") is no transition.
    created = JobEvent(id="2-0", job_id="j3", kind="state", job=JOB)
    metrics.observe_event(created)
    assert value(metrics, "clustercode_job_transitions_total", state="queued") == 0


def test_scan() -> None:
    metrics = ServiceMetrics()
    report = ScanReport(stats=ScanStats(files=7, skipped=Counter(settling=2), seconds=0.25))
    metrics.observe_scan(report)
    assert value(metrics, "clustercode_scan_files") == 7
    assert value(metrics, "clustercode_scan_settling_files") == 2
    assert value(metrics, "clustercode_scan_duration_seconds_count") == 1
    assert value(metrics, "clustercode_scan_duration_seconds_sum") == 0.25
