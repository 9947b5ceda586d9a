"""The real control service over real gRPC, no test doubles: the API token guards every RPC
but health.

As in test_service_api.py, each test drives a ``clustercode serve`` process (local executor,
embedded Redis) through the generated Python stub.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.protobuf import message as pb_message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clustercode.api.v1 import jobs_pb2, service_pb2
from clustercode.server import SERVICE_NAME
from tests.integration.serve_process import (
    SLOW_PROFILE,
    UNFINISHED,
    make_clip,
    place,
    serve_process,
)

SERVICE = service_pb2.DESCRIPTOR.services_by_name["ClustercodeService"]


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
