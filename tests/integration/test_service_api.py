"""The real control service over real gRPC: ``clustercode serve`` processes, no test doubles.

Each test starts ``clustercode serve`` with the local executor and the embedded Redis, drives it
through the generated Python stub, and checks what it did to the files: outputs, work files.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

import grpc
import pytest
from google.protobuf import message as pb_message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2
from clustercode.server import SERVICE_NAME
from tests.integration.serve_process import (
    FAST_PROFILE,
    SLOW_PROFILE,
    UNFINISHED,
    make_clip,
    serve_process,
    video_frames,
    wait_for,
)
from tests.pipelines.clips import overwrite_middle

SERVICE = service_pb2.DESCRIPTOR.services_by_name["ClustercodeService"]


def event_key(event_id: str) -> tuple[int, int]:
    """A Redis stream id ``MS-SEQ`` as a pair that sorts like the stream."""
    millis, _, seq = event_id.partition("-")
    return int(millis), int(seq)


def place(source: Path, target: Path) -> Path:
    """Move a finished file into the library at once, so no scan sees it half written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return target


def rpc_error(call: object, *args: object, **kwargs: object) -> grpc.RpcError:
    """Call a stub method that must fail; return its error."""
    assert callable(call)
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def field_of(error: grpc.RpcError) -> str:
    """The request field an INVALID_ARGUMENT names in its trailing metadata."""
    for item in error.trailing_metadata() or ():
        if item.key == "clustercode-field":
            value: str | bytes = item.value
            return value.decode() if isinstance(value, bytes) else value
    return ""


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_job_watched_from_submit_to_success(tmp_path: Path) -> None:
    with serve_process(
        tmp_path, "--profile", "fast", "--slice-seconds", "1", "--parallel", "2",
        profiles={"fast": FAST_PROFILE},
    ) as server, server.stub() as stub:  # fmt: skip
        stream = stub.WatchJobs(service_pb2.WatchJobsRequest(), timeout=120)
        stream.initial_metadata()  # the server sends it once its watch has started
        source = place(make_clip(tmp_path / "clip.mkv", duration=4), server.library / "clip.mkv")
        job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="clip.mkv"), timeout=30).job
        assert job.state in UNFINISHED
        assert job.source == str(source)
        events: list[jobs_pb2.JobEvent] = []
        for reply in stream:
            if reply.event.job_id != job.id:
                continue
            events.append(reply.event)
            if (
                reply.event.kind == jobs_pb2.JOB_EVENT_KIND_JOB_STATE
                and reply.event.job.state not in UNFINISHED
            ):
                break
        stream.cancel()  # type: ignore[no-untyped-call]
        detail = stub.GetJob(service_pb2.GetJobRequest(job_id=job.id), timeout=10)

    keys = [event_key(e.event_id) for e in events]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), [e.event_id for e in events]
    states = [e.job.state for e in events if e.kind == jobs_pb2.JOB_EVENT_KIND_JOB_STATE]
    assert states == [
        jobs_pb2.JOB_STATE_QUEUED,
        jobs_pb2.JOB_STATE_RUNNING,
        jobs_pb2.JOB_STATE_SUCCEEDED,
    ], events

    source_frames = video_frames(source)
    assert source_frames == 100
    final = detail.job
    assert final.state == jobs_pb2.JOB_STATE_SUCCEEDED
    assert final.slices_total == 4 and final.slices_done == 4
    assert final.frames_total == final.frames_done == source_frames
    assert [s.index for s in detail.slices] == [0, 1, 2, 3]
    for piece in detail.slices:
        assert piece.state == jobs_pb2.SLICE_STATE_SUCCEEDED
        assert piece.frames_done == piece.frames_total > 0
    assert sum(s.frames_total for s in detail.slices) == source_frames

    # Slice progress: every slice reported, frames never going back, each reaching its total.
    progress: dict[int, list[int]] = defaultdict(list)
    totals = {s.index: s.frames_total for s in detail.slices}
    for event in events:
        if event.kind == jobs_pb2.JOB_EVENT_KIND_SLICE_PROGRESS:
            progress[event.slice.index].append(event.slice.frames_done)
            assert event.slice.frames_total in (0, totals[event.slice.index])
    assert sorted(progress) == [0, 1, 2, 3]
    for index, done in progress.items():
        assert done == sorted(done), (index, done)
        assert done[-1] == totals[index], (index, done)
    # No slice progress after the job's final state.
    assert events[-1].kind == jobs_pb2.JOB_EVENT_KIND_JOB_STATE

    output = Path(final.output)
    assert output == server.output / "clip.mkv"
    assert video_frames(output) == source_frames
    assert final.size_after == output.stat().st_size


def test_cancel_running_job_leaves_no_output_and_no_work_files(tmp_path: Path) -> None:
    make_clip(tmp_path / "library" / "big.mkv", duration=8, size="640x360")
    with serve_process(
        tmp_path, "--profile", "slow", "--slice-seconds", "4", "--parallel", "1",
        profiles={"slow": SLOW_PROFILE},
    ) as server, server.stub() as stub:  # fmt: skip
        job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="big.mkv"), timeout=30).job
        # Cancel mid-encode: a slice has reported frames, not every slice is done.
        running = server.wait_job(job.id, lambda j: j.frames_done > 0)
        assert running.state == jobs_pb2.JOB_STATE_RUNNING
        assert running.slices_total == 2 and running.slices_done < running.slices_total
        work = server.state_dir / "work"
        assert (work / job.id / "slices.json").is_file(), "a running job has work files"

        reply = stub.CancelJob(service_pb2.CancelJobRequest(job_id=job.id), timeout=70)
        assert reply.job.state == jobs_pb2.JOB_STATE_CANCELLED
        assert reply.job.error == "cancelled"

        # The workflow's exit handler removes the job's work directory soon after.
        wait_for(lambda: True if not list(work.iterdir()) else None, 15, "the work files to go")
        assert files_under(server.output) == []
        assert not (server.output / "big.mkv").exists()

        again = rpc_error(stub.CancelJob, service_pb2.CancelJobRequest(job_id=job.id), timeout=10)
        assert again.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "cancelled" in (again.details() or "")
        time.sleep(1)  # nothing appears later either
        assert files_under(server.output) == []
        assert list(work.iterdir()) == []
        assert server.get_job(job.id).job.state == jobs_pb2.JOB_STATE_CANCELLED


def test_delete_then_scan_queues_the_file_again(tmp_path: Path) -> None:
    make_clip(tmp_path / "library" / "films" / "a.mkv", duration=2, size="160x90")
    with serve_process(
        tmp_path, "--profile", "fast", "--slice-seconds", "1", profiles={"fast": FAST_PROFILE}
    ) as server, server.stub() as stub:  # fmt: skip
        job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="films/a.mkv"), timeout=30).job
        done = server.wait_job(job.id, lambda j: j.state not in UNFINISHED)
        assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
        # Done under the same settings: a scan leaves it alone.
        scan = stub.ScanLibrary(service_pb2.ScanLibraryRequest(), timeout=30)
        assert [(d.kind, d.job_id) for d in scan.decisions] == [
            (library_pb2.DECISION_KIND_DONE, job.id)
        ]

        deleted = stub.DeleteJob(service_pb2.DeleteJobRequest(job_id=job.id), timeout=10)
        assert deleted.job.id == job.id
        missing = rpc_error(stub.GetJob, service_pb2.GetJobRequest(job_id=job.id), timeout=10)
        assert missing.code() == grpc.StatusCode.NOT_FOUND

        scan = stub.ScanLibrary(service_pb2.ScanLibraryRequest(), timeout=30)
        assert len(scan.decisions) == 1
        decision = scan.decisions[0]
        assert decision.kind == library_pb2.DECISION_KIND_NEW
        assert decision.path == str(server.library / "films" / "a.mkv")
        assert decision.job_id and decision.job_id != job.id
        counts = {c.kind: c.count for c in scan.counts}
        assert counts.get(library_pb2.DECISION_KIND_NEW) == 1
        listed = stub.ListJobs(service_pb2.ListJobsRequest(), timeout=10).jobs
        assert [j.id for j in listed] == [decision.job_id]
        assert listed[0].source == decision.path

        unknown = rpc_error(
            stub.DeleteJob, service_pb2.DeleteJobRequest(job_id="0123456789ab"), timeout=10
        )
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        for bad in ("../etc", "a b", "x" * 65):
            malformed = rpc_error(stub.GetJob, service_pb2.GetJobRequest(job_id=bad), timeout=10)
            assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
            assert "job_id" in (malformed.details() or ""), malformed.details()


@pytest.mark.parametrize("method", ["SubmitFile", "ExplainFile"])
def test_paths_are_confined_to_the_library(tmp_path: Path, method: str) -> None:
    outside = make_clip(tmp_path / "outside.mkv", duration=1, size="160x90")
    library = tmp_path / "library"
    make_clip(library / "inside.mkv", duration=1, size="160x90")
    (library / "sub").mkdir()
    (library / "sub" / "link.mkv").symlink_to(outside)
    requests = {
        "SubmitFile": service_pb2.SubmitFileRequest,
        "ExplainFile": service_pb2.ExplainFileRequest,
    }
    with serve_process(tmp_path, "--profile", "ffv1") as server, server.stub() as stub:
        call = getattr(stub, method)
        refused = ["../outside.mkv", "sub/../../outside.mkv", str(outside), "sub/link.mkv",
                   str(library / "sub" / "link.mkv"), "", "   "]  # fmt: skip
        for path in refused:
            error = rpc_error(call, requests[method](path=path), timeout=30)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (path, error.details())
            details = error.details() or ""
            assert details.startswith("path: "), (path, details)
            assert field_of(error) == "path", path
        for path in ("missing.mkv", str(library / "sub" / "missing.mkv")):
            error = rpc_error(call, requests[method](path=path), timeout=30)
            assert error.code() == grpc.StatusCode.NOT_FOUND, (path, error.details())
        # The file inside is accepted by the same call.
        reply = call(requests[method](path="inside.mkv"), timeout=30)
        assert isinstance(reply, pb_message.Message)
        # No refused path became a job (the start-up scan may queue what it finds itself).
        jobs = stub.ListJobs(service_pb2.ListJobsRequest(), timeout=10).jobs
        if method == "SubmitFile":
            assert str(library / "inside.mkv") in [j.source for j in jobs]
        assert all(Path(j.source).is_relative_to(library) for j in jobs), jobs
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["outside.mkv"]


TOKEN = "a-long-enough-api-token-4242"


def valid_requests(job_id: str) -> dict[str, pb_message.Message]:
    return {
        "GetStatus": service_pb2.GetStatusRequest(),
        "ScanLibrary": service_pb2.ScanLibraryRequest(),
        "SubmitFile": service_pb2.SubmitFileRequest(path="clip.mkv"),
        "ExplainFile": service_pb2.ExplainFileRequest(path="clip.mkv"),
        "ListJobs": service_pb2.ListJobsRequest(),
        "GetJob": service_pb2.GetJobRequest(job_id=job_id),
        "WatchJobs": service_pb2.WatchJobsRequest(job_id=job_id, after_event_id="0"),
        "CancelJob": service_pb2.CancelJobRequest(job_id=job_id),
        "RetryJob": service_pb2.RetryJobRequest(job_id=job_id),
        "DeleteJob": service_pb2.DeleteJobRequest(job_id=job_id),
        "ListProfiles": service_pb2.ListProfilesRequest(),
    }


def call_by_name(
    channel: grpc.Channel,
    method: str,
    request: pb_message.Message,
    metadata: tuple[tuple[str, str], ...],
) -> list[pb_message.Message]:
    """Call any RPC of the service by name; the first response of a stream is enough."""
    descriptor = SERVICE.methods_by_name[method]
    response_type = getattr(service_pb2, descriptor.output_type.name)
    path = f"/{SERVICE_NAME}/{method}"
    if descriptor.server_streaming:
        stream = channel.unary_stream(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )(request, metadata=metadata, timeout=30)
        first: pb_message.Message = next(iter(stream))
        stream.cancel()  # type: ignore[no-untyped-call]
        return [first]
    unary = channel.unary_unary(
        path,
        request_serializer=type(request).SerializeToString,
        response_deserializer=response_type.FromString,
    )
    return [unary(request, metadata=metadata, timeout=70)]


def test_token_guards_every_rpc_but_health(tmp_path: Path) -> None:
    make_clip(tmp_path / "library" / "clip.mkv", duration=4, size="640x360")
    second = make_clip(tmp_path / "second.mkv", duration=3, size="640x360")
    with (
        serve_process(tmp_path, "--profile", "slow", token=TOKEN, profiles={"slow": SLOW_PROFILE})
        as server,
        grpc.insecure_channel(server.address) as channel,
    ):  # fmt: skip
        good = (("authorization", f"Bearer {TOKEN}"),)
        wrong = (("authorization", f"Bearer {TOKEN}x"),)
        for method in SERVICE.methods_by_name:
            for metadata in ((), wrong, (("authorization", TOKEN),)):
                with pytest.raises(grpc.RpcError) as caught:
                    call_by_name(channel, method, valid_requests("0123456789ab")[method], metadata)
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, (method, metadata)

        health = health_pb2_grpc.HealthStub(channel)
        check = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert check.status == health_pb2.HealthCheckResponse.SERVING

        # With the token, every RPC answers. Job A runs (one job at a time); job B, queued
        # behind it, is cancelled and deleted; then A is cancelled and retried.
        def call(method: str, request: pb_message.Message) -> pb_message.Message:
            called.add(method)
            return call_by_name(channel, method, request, good)[0]

        called: set[str] = set()
        first = call("SubmitFile", service_pb2.SubmitFileRequest(path="clip.mkv"))
        assert isinstance(first, service_pb2.SubmitFileResponse)
        job_a = first.job.id
        requests = valid_requests(job_a)
        replies = {
            m: call(m, requests[m])
            for m in ["GetStatus", "ListProfiles", "ExplainFile", "ScanLibrary", "ListJobs",
                      "GetJob", "WatchJobs"]
        }  # fmt: skip
        place(second, server.library / "second.mkv")
        submitted_b = call("SubmitFile", service_pb2.SubmitFileRequest(path="second.mkv"))
        assert isinstance(submitted_b, service_pb2.SubmitFileResponse)
        job_b = submitted_b.job.id
        assert submitted_b.job.state == jobs_pb2.JOB_STATE_QUEUED
        cancelled_b = call("CancelJob", service_pb2.CancelJobRequest(job_id=job_b))
        deleted = call("DeleteJob", service_pb2.DeleteJobRequest(job_id=job_b))
        replies["CancelJob"] = call("CancelJob", requests["CancelJob"])
        replies["RetryJob"] = call("RetryJob", requests["RetryJob"])
    assert called == set(SERVICE.methods_by_name)
    status = replies["GetStatus"]
    assert isinstance(status, service_pb2.GetStatusResponse)
    assert status.executor == "local" and status.executor_healthy and status.redis_healthy
    for cancelled in (replies["CancelJob"], cancelled_b):
        assert isinstance(cancelled, service_pb2.CancelJobResponse)
        assert cancelled.job.state == jobs_pb2.JOB_STATE_CANCELLED
    retried = replies["RetryJob"]
    assert isinstance(retried, service_pb2.RetryJobResponse)
    assert retried.job.state in UNFINISHED and retried.job.attempts == 0
    assert isinstance(deleted, service_pb2.DeleteJobResponse) and deleted.job.id == job_b
    watched = replies["WatchJobs"]
    assert isinstance(watched, service_pb2.WatchJobsResponse) and watched.event.job_id == job_a
    listed = replies["ListProfiles"]
    assert isinstance(listed, service_pb2.ListProfilesResponse)
    assert "slow" in [p.name for p in listed.profiles]


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
