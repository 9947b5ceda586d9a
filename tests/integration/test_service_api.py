"""The real control service over real gRPC, no test doubles: a job watched from submit to
success, cancel of a running job, delete then scan, and paths confined to the library.

Each test starts ``clustercode serve`` with the local executor and the embedded Redis, drives it
through the generated Python stub, and checks what it did to the files: outputs, work files.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import grpc
import pytest
from google.protobuf import message as pb_message

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2
from tests.integration.serve_process import (
    FAST_PROFILE,
    SLOW_PROFILE,
    UNFINISHED,
    files_under,
    make_clip,
    place,
    serve_process,
    video_frames,
    wait_for,
)


def event_key(event_id: str) -> tuple[int, int]:
    """A Redis stream id ``MS-SEQ`` as a pair that sorts like the stream."""
    millis, _, seq = event_id.partition("-")
    return int(millis), int(seq)


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
