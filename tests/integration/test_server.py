"""The gRPC server on a real port: every RPC answers, its fields and paging, streaming in order
with a filter, and shutdown ending open streams.

The control plane below the servicer is the in-memory double of ``server_double`` (the
``control``, ``channel`` and ``stub`` fixtures of the integration conftest); these tests are about
what the server does with requests and results.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
import pytest

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2, service_pb2_grpc
from clustercode.jobs.views import SchedulerPause
from clustercode.models import JobState, SliceProgress
from clustercode.server import ApiServer, ClustercodeServicer
from tests.integration.grpc_client import AUTH, SERVICE, TOKEN, call
from tests.integration.server_double import ControlDouble


def test_every_rpc_of_the_stub_has_a_handler() -> None:
    base = service_pb2_grpc.ClustercodeServiceServicer
    names = [method.name for method in SERVICE.methods]
    assert len(names) == 11
    missing = [n for n in names if getattr(ClustercodeServicer, n) is getattr(base, n)]
    assert missing == []


async def test_every_rpc_answers_over_the_wire(channel: grpc.aio.Channel) -> None:
    # Empty requests: each RPC must reach its handler (any code but UNIMPLEMENTED).
    for method in SERVICE.methods:
        request = getattr(service_pb2, method.input_type.name)()
        if method.server_streaming:
            request = service_pb2.WatchJobsRequest(after_event_id="0")
        try:
            await asyncio.wait_for(call(channel, method.name, request), timeout=0.5)
        except grpc.aio.AioRpcError as error:
            assert error.code() is not grpc.StatusCode.UNIMPLEMENTED, method.name
        except TimeoutError:
            assert method.server_streaming, method.name  # a watch stays open


async def test_get_status(stub: Any) -> None:
    response = await stub.GetStatus(service_pb2.GetStatusRequest(), metadata=AUTH)
    assert response.version == "0.1.0"
    assert response.executor == "local"
    assert response.executor_healthy and response.redis_healthy
    assert (response.queue_depth, response.active_jobs) == (1, 1)
    counts = {jobs_pb2.JobState.Name(c.state): c.count for c in response.job_counts}
    assert counts == {
        "JOB_STATE_QUEUED": 1,
        "JOB_STATE_RUNNING": 1,
        "JOB_STATE_SUCCEEDED": 1,
        "JOB_STATE_FAILED": 0,
        "JOB_STATE_CANCELLED": 0,
        "JOB_STATE_PARKED": 0,
    }
    assert not response.HasField("pause")


async def test_get_status_reports_the_schedulers_pause(stub: Any, control: ControlDouble) -> None:
    control.pause = SchedulerPause(
        reason="clustercode-step split: encoder libx265 is not in ffmpeg /usr/bin/ffmpeg",
        next_try=1_700_000_090.5,
        pauses=2,
    )
    response = await stub.GetStatus(service_pb2.GetStatusRequest(), metadata=AUTH)
    assert response.HasField("pause")
    assert response.pause.reason == control.pause.reason
    assert response.pause.next_try_time.ToMicroseconds() == 1_700_000_090_500_000
    assert response.pause.pauses == 2


async def test_scan_library_caps_decisions(stub: Any, control: ControlDouble) -> None:
    full = await stub.ScanLibrary(service_pb2.ScanLibraryRequest(), metadata=AUTH)
    assert [d.path for d in full.decisions] == [f"/library/{n}.mkv" for n in "abc"]
    assert not full.decisions_truncated
    capped = await stub.ScanLibrary(service_pb2.ScanLibraryRequest(max_decisions=2), metadata=AUTH)
    assert len(capped.decisions) == 2 and capped.decisions_truncated
    counts = {library_pb2.DecisionKind.Name(c.kind): c.count for c in capped.counts}
    assert counts["DECISION_KIND_NEW"] == 3 and counts["DECISION_KIND_DONE"] == 0


async def test_submit_file_passes_optional_fields(stub: Any, control: ControlDouble) -> None:
    plain = await stub.SubmitFile(service_pb2.SubmitFileRequest(path="a.mkv"), metadata=AUTH)
    assert plain.job.id == "j9" and plain.job.state == jobs_pb2.JOB_STATE_QUEUED
    request = service_pb2.SubmitFileRequest(path="b.mkv", profile="small", priority=0, force=True)
    await stub.SubmitFile(request, metadata=AUTH)
    submits = [args for name, args in control.calls if name == "submit"]
    assert submits == [
        {"path": "a.mkv", "profile": None, "priority": None, "force": False},
        # priority 0 was set explicitly, so it is passed, not taken as "unset"
        {"path": "b.mkv", "profile": "small", "priority": 0, "force": True},
    ]


async def test_explain_file(stub: Any) -> None:
    response = await stub.ExplainFile(service_pb2.ExplainFileRequest(path="x.mkv"), metadata=AUTH)
    assert response.path == "/library/x.mkv"
    assert dict(response.origins) == {"video": "/library/.clustercode.yaml"}
    assert response.decision.kind == library_pb2.DECISION_KIND_SKIPPED
    assert (response.skip_reason, response.slices, response.frames) == ("already HEVC", 4, 960)
    assert dict(response.values) == {"container": "mkv"} and response.duration_seconds == 40.0


async def test_list_jobs_paging_fields(stub: Any, control: ControlDouble) -> None:
    first = await stub.ListJobs(service_pb2.ListJobsRequest(page_size=2), metadata=AUTH)
    assert [j.id for j in first.jobs] == ["j1", "j2"] and first.next_page_token == "2"
    second = await stub.ListJobs(
        service_pb2.ListJobsRequest(page_size=2, page_token=first.next_page_token), metadata=AUTH
    )
    assert [j.id for j in second.jobs] == ["j3"] and second.next_page_token == ""
    queued = await stub.ListJobs(
        service_pb2.ListJobsRequest(state=jobs_pb2.JOB_STATE_QUEUED), metadata=AUTH
    )
    assert [j.id for j in queued.jobs] == ["j2"]
    await stub.ListJobs(service_pb2.ListJobsRequest(page_size=5000), metadata=AUTH)
    asked = [(a["state"], a["page_size"]) for n, a in control.calls if n == "list_jobs"]
    # default 50 when unset, capped at 1000, UNSPECIFIED means every state
    assert asked == [(None, 2), (None, 2), (JobState.QUEUED, 50), (None, 1000)]


async def test_get_job_with_slices(stub: Any) -> None:
    response = await stub.GetJob(service_pb2.GetJobRequest(job_id="j1"), metadata=AUTH)
    assert response.job.state == jobs_pb2.JOB_STATE_RUNNING
    assert response.job.start_time.seconds == 1_700_000_001
    assert [(s.index, s.frames_done, s.state) for s in response.slices] == [
        (0, 120, jobs_pb2.SLICE_STATE_SUCCEEDED),
        (1, 30, jobs_pb2.SLICE_STATE_RUNNING),
    ]
    assert response.slices[1].fps == pytest.approx(42.5)


async def test_cancel_retry_delete(stub: Any, control: ControlDouble) -> None:
    cancelled = await stub.CancelJob(service_pb2.CancelJobRequest(job_id="j1"), metadata=AUTH)
    assert cancelled.job.state == jobs_pb2.JOB_STATE_CANCELLED
    retried = await stub.RetryJob(service_pb2.RetryJobRequest(job_id="j1"), metadata=AUTH)
    assert retried.job.state == jobs_pb2.JOB_STATE_QUEUED and retried.job.attempts == 1
    deleted = await stub.DeleteJob(service_pb2.DeleteJobRequest(job_id="j3"), metadata=AUTH)
    assert deleted.job.id == "j3" and "j3" not in control.jobs


async def test_list_profiles(stub: Any) -> None:
    response = await stub.ListProfiles(service_pb2.ListProfilesRequest(), metadata=AUTH)
    default, small = response.profiles
    assert (default.name, default.audio_copy, list(default.audio_args)) == ("default", True, [])
    assert list(default.video_args) == ["-c:v", "libx264", "-crf", "23"]
    assert (small.audio_copy, list(small.audio_args)) == (False, ["-c:a", "aac", "-b:a", "96k"])
    assert (small.container, small.slice_seconds, small.priority) == ("mp4", 10.0, 5)
    assert (default.description, small.description) == ("", "small files for phones")


async def test_watch_streams_events_in_order_with_filter(stub: Any, control: ControlDouble) -> None:
    await control.publish("state", "j2")  # before the watch: only "0" replays it
    every = stub.WatchJobs(service_pb2.WatchJobsRequest(after_event_id="0"), metadata=AUTH)
    only_j1 = stub.WatchJobs(service_pb2.WatchJobsRequest(job_id="j1"), metadata=AUTH)
    await every.wait_for_connection()
    await only_j1.wait_for_connection()
    await asyncio.sleep(0.1)  # let both reach the control plane's watch
    progress = SliceProgress(index=1, frames_total=120, frames_done=60, state="running")
    await control.publish("slice", "j1", progress)
    await control.publish("state", "j3")
    await control.publish("deleted", "j1")

    seen = [(await every.read()).event for _ in range(4)]
    assert [e.event_id for e in seen] == ["1", "2", "3", "4"]
    assert [jobs_pb2.JobEventKind.Name(e.kind) for e in seen] == [
        "JOB_EVENT_KIND_JOB_STATE",
        "JOB_EVENT_KIND_SLICE_PROGRESS",
        "JOB_EVENT_KIND_JOB_STATE",
        "JOB_EVENT_KIND_JOB_DELETED",
    ]
    assert seen[1].slice.frames_done == 60 and seen[1].HasField("slice")
    assert not seen[0].HasField("slice")
    filtered = [(await only_j1.read()).event for _ in range(2)]
    assert [(e.event_id, e.job_id) for e in filtered] == [("2", "j1"), ("4", "j1")]
    watch_args = [args for name, args in control.calls if name == "watch"]
    assert {"job_id": "j1", "after": ""} in watch_args
    assert {"job_id": None, "after": "0"} in watch_args
    every.cancel()
    only_j1.cancel()
    for _ in range(50):  # the servicer closes the control plane's iterators
        if control.watchers_open == 0:
            break
        await asyncio.sleep(0.02)
    assert control.watchers_open == 0


async def test_shutdown_ends_watch_with_unavailable_quickly(control: ControlDouble) -> None:
    server = ApiServer(control, listen="127.0.0.1:0", token=TOKEN)
    await server.start()
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub: Any = service_pb2_grpc.ClustercodeServiceStub(channel)
        watch = stub.WatchJobs(service_pb2.WatchJobsRequest(), metadata=AUTH)
        await asyncio.sleep(0.1)
        await control.publish("state", "j1")
        first = await watch.read()
        started = time.monotonic()
        await server.stop(grace=30)
        elapsed = time.monotonic() - started
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await watch.read()
    assert first.event.event_id == "1"
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "after_event_id='1'" in (caught.value.details() or "")
    assert elapsed < 5, f"stop waited {elapsed:.1f} s for an open watch"
    assert control.watchers_open == 0
