"""Real grpcurl against a real server: reflection lists and describes the API, the token is
needed for the API and not for health, and JSON requests with enum names work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from clustercode.server import SERVICE_NAME, ApiServer
from tests.conftest import require_tool
from tests.integration.grpc_client import TOKEN
from tests.integration.server_double import ControlDouble

AUTH_HEADER = f"authorization: Bearer {TOKEN}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """What a grpcurl run left."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture
def grpcurl() -> str:
    """Path of grpcurl (go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3)."""
    return require_tool("grpcurl")


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """Address of a server with a token."""
    async with ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN) as server:
        yield server.target


async def run(grpcurl: str, *args: str) -> Result:
    """Run grpcurl without blocking the event loop the server runs on."""
    process = await asyncio.create_subprocess_exec(
        grpcurl,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return Result(code=process.returncode, stdout=stdout.decode(), stderr=stderr.decode())


async def test_list_through_reflection_without_token(grpcurl: str, target: str) -> None:
    result = await run(grpcurl, "-plaintext", target, "list")
    assert result.code == 0, result.stderr
    services = result.stdout.split()
    assert SERVICE_NAME in services
    assert "grpc.health.v1.Health" in services


async def test_describe_service(grpcurl: str, target: str) -> None:
    result = await run(grpcurl, "-plaintext", target, "describe", SERVICE_NAME)
    assert result.code == 0, result.stderr
    assert f"{SERVICE_NAME} is a service:" in result.stdout
    assert (
        "rpc WatchJobs ( .clustercode.v1.WatchJobsRequest ) returns "
        "( stream .clustercode.v1.WatchJobsResponse );" in result.stdout
    )
    assert result.stdout.count("  rpc ") == 11


async def test_describe_message(grpcurl: str, target: str) -> None:
    result = await run(grpcurl, "-plaintext", target, "describe", "clustercode.v1.Job")
    assert result.code == 0, result.stderr
    assert ".clustercode.v1.JobState state = 7;" in result.stdout


async def test_get_status_needs_the_token(grpcurl: str, target: str) -> None:
    method = f"{SERVICE_NAME}/GetStatus"
    refused = await run(grpcurl, "-plaintext", target, method)
    assert refused.code != 0
    assert "Code: Unauthenticated" in refused.stderr
    assert "missing bearer token" in refused.stderr

    wrong = await run(grpcurl, "-plaintext", "-H", "authorization: Bearer nope", target, method)
    assert "Code: Unauthenticated" in wrong.stderr

    answered = await run(grpcurl, "-plaintext", "-H", AUTH_HEADER, target, method)
    assert answered.code == 0, answered.stderr
    status = json.loads(answered.stdout)
    assert status["version"] == "0.1.0"
    assert status["executor_healthy"] is True
    assert {"state": "JOB_STATE_RUNNING", "count": "1"} in status["job_counts"]


async def test_health_check_without_token(grpcurl: str, target: str) -> None:
    result = await run(grpcurl, "-plaintext", target, "grpc.health.v1.Health/Check")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}


async def test_list_jobs_with_json_request(grpcurl: str, target: str) -> None:
    result = await run(
        grpcurl,
        "-plaintext",
        "-H",
        AUTH_HEADER,
        "-d",
        '{"state": "JOB_STATE_QUEUED", "page_size": 10}',
        target,
        f"{SERVICE_NAME}/ListJobs",
    )
    assert result.code == 0, result.stderr
    jobs = json.loads(result.stdout)["jobs"]
    assert [(j["id"], j["state"]) for j in jobs] == [("j2", "JOB_STATE_QUEUED")]


async def test_invalid_argument_names_the_field(grpcurl: str, target: str) -> None:
    result = await run(
        grpcurl,
        "-plaintext",
        "-H",
        AUTH_HEADER,
        "-d",
        '{"job_id": ""}',
        target,
        f"{SERVICE_NAME}/CancelJob",
    )
    assert result.code != 0
    assert "Code: InvalidArgument" in result.stderr
    assert "Message: job_id: is required" in result.stderr
