"""The real control service over real gRPC, no test doubles: parked jobs, retries and paging,
and a retry (or a delete) of a job that waits for its retry.

As in test_service_api.py, each test drives a ``clustercode serve`` process (local executor,
embedded Redis) through the generated Python stub.
"""

from __future__ import annotations

import time
from pathlib import Path

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2
from tests.integration.serve_process import (
    FAST_PROFILE,
    UNFINISHED,
    files_under,
    make_clip,
    place,
    serve_process,
    video_frames,
    wait_for,
)
from tests.pipelines.clips import overwrite_middle


def distinct_clips(directory: Path, count: int) -> list[Path]:
    """Clips with different content (different lengths), made outside the library."""
    return [
        make_clip(directory / f"clip{n}.mkv", duration=1 + n * 0.2, size="160x90")
        for n in range(count)
    ]


def test_parked_job_retried_and_paging(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "good.mkv", duration=3)
    library = tmp_path / "library"
    library.mkdir()
    overwrite_middle(clip, library / "broken.mkv", size=20000)
    extra = distinct_clips(tmp_path / "more", 5)
    with serve_process(
        tmp_path, "--profile", "fast", "--max-attempts", "1", "--slice-seconds", "1",
        profiles={"fast": FAST_PROFILE}, env={"CLUSTERCODE_RETRY_BACKOFF": "0"},
    ) as server, server.stub() as stub:  # fmt: skip
        # The start-up scan queues the broken file.
        jobs = wait_for(
            lambda: stub.ListJobs(service_pb2.ListJobsRequest(), timeout=10).jobs or None,
            30,
            "the start-up scan",
        )
        assert [j.source for j in jobs] == [str(library / "broken.mkv")]
        job_id = jobs[0].id
        parked = server.wait_job(job_id, lambda j: j.state not in UNFINISHED, timeout=90)
        assert parked.state == jobs_pb2.JOB_STATE_PARKED, parked
        assert parked.attempts == 1
        assert parked.error.startswith("parked after 1 attempts: ")
        assert len(parked.error) > len("parked after 1 attempts: ") + 10, parked.error

        retried = stub.RetryJob(service_pb2.RetryJobRequest(job_id=job_id), timeout=10).job
        assert retried.state == jobs_pb2.JOB_STATE_QUEUED
        assert retried.attempts == 0
        again = server.wait_job(
            job_id, lambda j: j.state not in UNFINISHED and j.attempts > 0, timeout=90
        )
        assert again.state == jobs_pb2.JOB_STATE_PARKED
        assert again.attempts == 1 and again.error.startswith("parked after 1 attempts: ")
        only_parked = stub.ListJobs(
            service_pb2.ListJobsRequest(state=jobs_pb2.JOB_STATE_PARKED), timeout=10
        )
        assert [j.id for j in only_parked.jobs] == [job_id]
        assert only_parked.next_page_token == ""
        assert files_under(server.output) == []

        for path in extra:
            place(path, library / "more" / path.name)
        scan = stub.ScanLibrary(service_pb2.ScanLibraryRequest(), timeout=30)
        decided = {Path(d.path).name: d for d in scan.decisions}
        assert decided["broken.mkv"].kind == library_pb2.DECISION_KIND_PARKED
        more_ids = {d.job_id for name, d in decided.items() if name != "broken.mkv"}
        assert len(more_ids) == 5 and "" not in more_ids
        expected = more_ids | {job_id}

        pages: list[list[str]] = []
        token = ""
        while True:
            page = stub.ListJobs(
                service_pb2.ListJobsRequest(page_size=2, page_token=token), timeout=10
            )
            pages.append([j.id for j in page.jobs])
            token = page.next_page_token
            if not token:
                break
            assert len(pages) < 10, pages
    assert [len(p) for p in pages] == [2, 2, 2], pages
    seen = [job for page in pages for job in page]
    assert len(seen) == len(set(seen)) == 6
    assert set(seen) == expected
    # Newest first: the parked job, created first, is last.
    assert seen[-1] == job_id


def test_retry_after_the_cause_is_fixed_runs_the_job_again(tmp_path: Path) -> None:
    make_clip(tmp_path / "library" / "a.mkv", duration=2, size="160x90")
    blocker = tmp_path / "out" / "a.mkv"
    blocker.mkdir(parents=True)  # a directory where the output goes: publishing fails
    with serve_process(
        tmp_path, "--profile", "fast", "--max-attempts", "1", "--slice-seconds", "1",
        profiles={"fast": FAST_PROFILE}, env={"CLUSTERCODE_RETRY_BACKOFF": "0"},
    ) as server, server.stub() as stub:  # fmt: skip
        job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="a.mkv"), timeout=30).job
        parked = server.wait_job(job.id, lambda j: j.state not in UNFINISHED, timeout=90)
        assert parked.state == jobs_pb2.JOB_STATE_PARKED, parked
        assert parked.error.startswith("parked after 1 attempts: "), parked.error

        blocker.rmdir()  # the user fixes the cause, then retries
        retried = stub.RetryJob(service_pb2.RetryJobRequest(job_id=job.id), timeout=10).job
        assert retried.state == jobs_pb2.JOB_STATE_QUEUED and retried.attempts == 0
        done = server.wait_job(
            job.id, lambda j: j.state not in UNFINISHED and j.attempts > 0, timeout=60
        )
        # The retry must run a new workflow, not read the outcome of the parked attempt again.
        assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
        assert done.error == ""
    assert video_frames(server.output / "a.mkv") == 50


def test_deleting_a_job_that_waits_for_its_retry_keeps_the_scheduler_running(
    tmp_path: Path,
) -> None:
    clip = make_clip(tmp_path / "good.mkv", duration=2, size="160x90")
    (tmp_path / "library").mkdir()
    overwrite_middle(
        make_clip(tmp_path / "bad.mkv", duration=3), tmp_path / "library" / "broken.mkv", size=20000
    )
    with serve_process(
        tmp_path, "--profile", "fast", "--max-attempts", "2", "--slice-seconds", "1",
        profiles={"fast": FAST_PROFILE}, env={"CLUSTERCODE_RETRY_BACKOFF": "2"},
    ) as server, server.stub() as stub:  # fmt: skip
        jobs = wait_for(
            lambda: stub.ListJobs(service_pb2.ListJobsRequest(), timeout=10).jobs or None,
            30,
            "the start-up scan",
        )
        broken = jobs[0].id
        failed = server.wait_job(broken, lambda j: j.state == jobs_pb2.JOB_STATE_FAILED, 60)
        assert failed.attempts == 1 and failed.error, failed
        # Its second attempt is due in 2 s; the user deletes the entry meanwhile.
        stub.DeleteJob(service_pb2.DeleteJobRequest(job_id=broken), timeout=10)
        time.sleep(3)

        # The scheduler still runs jobs.
        place(clip, server.library / "good.mkv")
        job = stub.SubmitFile(
            service_pb2.SubmitFileRequest(path="good.mkv", priority=10), timeout=30
        ).job
        done = server.wait_job(job.id, lambda j: j.state not in UNFINISHED, timeout=30)
        assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
    # Leaving the block checked that serve exited 0 on SIGTERM, with no traceback.
