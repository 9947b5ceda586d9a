"""The gRPC server on a real port: every error of the control plane and every check of the
servicer maps to its status code, message and field; an unexpected error is INTERNAL without
details.

The control plane below the servicer is the in-memory double of ``server_double`` (the
``control`` and ``channel`` fixtures of the integration conftest).
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from google.protobuf import message as pb_message

from clustercode.api.v1 import service_pb2
from clustercode.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PathOutsideLibraryError,
    ProfileError,
    UnavailableError,
)
from clustercode.server.errors import FIELD_METADATA_KEY, INTERNAL_MESSAGE
from tests.integration.grpc_client import SERVICE, rpc_error
from tests.integration.server_double import ControlDouble

# (RPC, request, error the control plane raises or None for the servicer's own check,
#  expected code, text the message must contain, field in the trailing metadata)
ERROR_CASES: list[tuple[str, pb_message.Message, Exception | None, grpc.StatusCode, str, str]] = [
    (
        "GetStatus",
        service_pb2.GetStatusRequest(),
        UnavailableError("Redis at redis://x:6379 does not answer"),
        grpc.StatusCode.UNAVAILABLE,
        "does not answer",
        "",
    ),
    (
        "ScanLibrary",
        service_pb2.ScanLibraryRequest(max_decisions=-1),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "max_decisions: must not be negative",
        "max_decisions",
    ),
    (
        "ScanLibrary",
        service_pb2.ScanLibraryRequest(),
        ProfileError("profiles/hevc.yaml line 4: unknown key 'crff'"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "unknown key 'crff'",
        "",
    ),
    (
        "SubmitFile",
        service_pb2.SubmitFileRequest(),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "path: is required",
        "path",
    ),
    (
        "SubmitFile",
        service_pb2.SubmitFileRequest(path="a.mkv", profile=""),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "profile: is required",
        "profile",
    ),
    (
        "SubmitFile",
        service_pb2.SubmitFileRequest(path="../etc/passwd"),
        PathOutsideLibraryError("path", "../etc/passwd is outside every library root"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "path: ../etc/passwd is outside",
        "path",
    ),
    (
        "SubmitFile",
        service_pb2.SubmitFileRequest(path="gone.mkv"),
        NotFoundError("file gone.mkv does not exist"),
        grpc.StatusCode.NOT_FOUND,
        "gone.mkv does not exist",
        "",
    ),
    (
        "ExplainFile",
        service_pb2.ExplainFileRequest(),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "path: is required",
        "path",
    ),
    (
        "ExplainFile",
        service_pb2.ExplainFileRequest(path="gone.mkv"),
        NotFoundError("file gone.mkv does not exist"),
        grpc.StatusCode.NOT_FOUND,
        "gone.mkv",
        "",
    ),
    (
        "ListJobs",
        service_pb2.ListJobsRequest(page_size=-5),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_size: must not be negative",
        "page_size",
    ),
    (
        "ListJobs",
        service_pb2.ListJobsRequest(state=99),  # type: ignore[arg-type]
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "state: unknown job state 99",
        "state",
    ),
    (
        "ListJobs",
        service_pb2.ListJobsRequest(page_token="garbage"),
        InvalidArgumentError("page_token", "not a token this server issued"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token: not a token",
        "page_token",
    ),
    (
        "GetJob",
        service_pb2.GetJobRequest(),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "job_id: is required",
        "job_id",
    ),
    (
        "GetJob",
        service_pb2.GetJobRequest(job_id="nope"),
        None,
        grpc.StatusCode.NOT_FOUND,
        "job nope does not exist",
        "",
    ),
    (
        "WatchJobs",
        service_pb2.WatchJobsRequest(after_event_id="x-y"),
        InvalidArgumentError("after_event_id", "'x-y' is not an event id"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "after_event_id: 'x-y' is not an event id",
        "after_event_id",
    ),
    (
        "WatchJobs",
        service_pb2.WatchJobsRequest(),
        UnavailableError("Redis at redis://x:6379 does not answer"),
        grpc.StatusCode.UNAVAILABLE,
        "does not answer",
        "",
    ),
    (
        "CancelJob",
        service_pb2.CancelJobRequest(job_id="j3"),
        FailedPreconditionError("job j3 already succeeded; nothing to cancel"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "already succeeded",
        "",
    ),
    (
        "CancelJob",
        service_pb2.CancelJobRequest(job_id="nope"),
        None,
        grpc.StatusCode.NOT_FOUND,
        "job nope",
        "",
    ),
    (
        "RetryJob",
        service_pb2.RetryJobRequest(job_id="j1"),
        FailedPreconditionError("job j1 is running"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "is running",
        "",
    ),
    (
        "RetryJob",
        service_pb2.RetryJobRequest(),
        None,
        grpc.StatusCode.INVALID_ARGUMENT,
        "job_id: is required",
        "job_id",
    ),
    (
        "DeleteJob",
        service_pb2.DeleteJobRequest(job_id="nope"),
        None,
        grpc.StatusCode.NOT_FOUND,
        "job nope",
        "",
    ),
    (
        "ListProfiles",
        service_pb2.ListProfilesRequest(),
        ProfileError("profiles/x.yaml line 2: 'video' must be a list"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "must be a list",
        "",
    ),
]

_CONTROL_METHOD = {
    "GetStatus": "status",
    "ScanLibrary": "scan",
    "SubmitFile": "submit",
    "ExplainFile": "explain",
    "ListJobs": "list_jobs",
    "GetJob": "get_job",
    "WatchJobs": "watch",
    "CancelJob": "cancel",
    "RetryJob": "retry",
    "DeleteJob": "delete",
    "ListProfiles": "list_profiles",
}


@pytest.mark.parametrize(
    ("rpc", "request_", "raised", "code", "text", "field"),
    ERROR_CASES,
    ids=[f"{c[0]}-{c[3].name}-{i}" for i, c in enumerate(ERROR_CASES)],
)
async def test_errors_map_to_status_codes(
    channel: grpc.aio.Channel,
    control: ControlDouble,
    rpc: str,
    request_: pb_message.Message,
    raised: Exception | None,
    code: grpc.StatusCode,
    text: str,
    field: str,
) -> None:
    if raised is not None:
        control.fail[_CONTROL_METHOD[rpc]] = raised
    error = await rpc_error(channel, rpc, request_)
    assert error.code() is code
    assert text in (error.details() or "")
    metadata: Any = error.trailing_metadata()  # grpc.aio.Metadata: (key, value) pairs
    trailing = [v for k, v in metadata if k == FIELD_METADATA_KEY]
    assert trailing == ([field] if field else [])


def test_error_cases_cover_every_rpc() -> None:
    assert {case[0] for case in ERROR_CASES} == {m.name for m in SERVICE.methods}


async def test_unexpected_error_is_internal_without_details(
    channel: grpc.aio.Channel, control: ControlDouble, caplog: pytest.LogCaptureFixture
) -> None:
    control.fail["get_job"] = KeyError("secret internal state /srv/x")
    with caplog.at_level(logging.ERROR, logger="clustercode.server.errors"):
        error = await rpc_error(channel, "GetJob", service_pb2.GetJobRequest(job_id="j1"))
    assert error.code() is grpc.StatusCode.INTERNAL
    assert error.details() == INTERNAL_MESSAGE
    assert "secret" not in str(error.debug_error_string())
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and "GetJob failed" in logged[0].getMessage()
