"""Malformed requests, capped messages and the health service, on a real gRPC server."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from clustercode.api.v1 import service_pb2
from clustercode.errors import InvalidArgumentError
from clustercode.jobs.views import Status
from clustercode.server import ApiServer
from tests.integration.conftest import free_port, start_redis_server, stop_process
from tests.integration.grpc_client import AUTH, SERVICE, TOKEN
from tests.integration.serve_process import serve_process, wait_for
from tests.integration.server_double import ControlDouble

MALFORMED = [b"\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x08" + b"\xff" * 11, b"\x0a\x05ab"]


async def _raw(
    channel: grpc.aio.Channel, method: str, body: bytes, metadata: tuple[tuple[str, str], ...]
) -> grpc.StatusCode:
    streaming = SERVICE.methods_by_name[method].server_streaming
    path = f"/{SERVICE.full_name}/{method}"
    try:
        if streaming:
            async for _ in channel.unary_stream(path, None, None)(
                body, metadata=metadata, timeout=5
            ):
                pass
        else:
            await channel.unary_unary(path, None, None)(body, metadata=metadata, timeout=5)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("authorized", [True, False])
async def test_a_malformed_body_is_invalid_argument_without_a_traceback(
    authorized: bool, caplog: pytest.LogCaptureFixture
) -> None:
    control = ControlDouble()
    metadata = AUTH if authorized else ()
    expected = grpc.StatusCode.INVALID_ARGUMENT if authorized else grpc.StatusCode.UNAUTHENTICATED
    with caplog.at_level(logging.DEBUG):
        async with (
            ApiServer(control, listen="127.0.0.1:0", token=TOKEN) as server,
            grpc.aio.insecure_channel(server.target) as channel,
        ):
            for method in SERVICE.methods_by_name:
                for body in MALFORMED:
                    assert await _raw(channel, method, body, metadata) is expected, method
            health = channel.unary_unary("/grpc.health.v1.Health/Check", None, None)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await health(b"\xff", timeout=5)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert control.calls == []
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_request_text_in_errors_is_capped() -> None:
    control = ControlDouble()
    control.fail["explain"] = InvalidArgumentError("path", "x" * 100_000)
    async with (
        ApiServer(control, listen="127.0.0.1:0", token=TOKEN) as server,
        grpc.aio.insecure_channel(server.target) as channel,
    ):
        explain = channel.unary_unary(
            f"/{SERVICE.full_name}/ExplainFile",
            request_serializer=service_pb2.ExplainFileRequest.SerializeToString,
            response_deserializer=service_pb2.ExplainFileResponse.FromString,
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await explain(service_pb2.ExplainFileRequest(path="a"), metadata=AUTH, timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert len(caught.value.details() or "") <= 2003


class Flaky(ControlDouble):
    """A control plane whose Redis can be taken away."""

    redis_error = ""

    async def status(self) -> Status:
        return replace(await super().status(), redis_error=self.redis_error)


async def _health(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return int(reply.status)


async def _wait_health(channel: grpc.aio.Channel, wanted: int) -> None:
    for _ in range(100):
        if await _health(channel) == wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"health never became {wanted}")


async def test_health_follows_redis_and_the_executor(caplog: pytest.LogCaptureFixture) -> None:
    control = Flaky()
    async with (
        ApiServer(
            control, listen="127.0.0.1:0", token=TOKEN, check_health=True, health_interval=0.1
        ) as server,
        grpc.aio.insecure_channel(server.target) as channel,
    ):
        await _wait_health(channel, health_pb2.HealthCheckResponse.SERVING)
        control.redis_error = "redis at redis://127.0.0.1:1: connection refused"
        await _wait_health(channel, health_pb2.HealthCheckResponse.NOT_SERVING)
        assert "NOT_SERVING: redis: redis at redis://127.0.0.1:1" in caplog.text
        control.redis_error = ""
        await _wait_health(channel, health_pb2.HealthCheckResponse.SERVING)


async def test_a_dead_background_task_turns_health_not_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def scans() -> None:
        await release.wait()
        raise RuntimeError("boom in the scan loop")

    task = asyncio.create_task(scans(), name="scans")
    async with (
        ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN) as server,
        grpc.aio.insecure_channel(server.target) as channel,
    ):
        server.watch_task(task)
        assert await _health(channel) == health_pb2.HealthCheckResponse.SERVING
        release.set()
        await _wait_health(channel, health_pb2.HealthCheckResponse.NOT_SERVING)
    assert "background task scans failed: RuntimeError('boom in the scan loop')" in caplog.text


def test_health_of_a_real_serve_follows_its_redis(tmp_path: Path, redis_server_binary: str) -> None:
    port = free_port()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    redis_process = start_redis_server(redis_server_binary, redis_dir, port)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        with (
            serve_process(tmp_path, "--redis-url", url) as server,
            grpc.insecure_channel(server.address) as channel,
        ):
            check = health_pb2_grpc.HealthStub(channel).Check

            def status() -> int:
                return int(check(health_pb2.HealthCheckRequest(), timeout=5).status)

            assert status() == health_pb2.HealthCheckResponse.SERVING
            stop_process(redis_process)
            wait_for(
                lambda: status() == health_pb2.HealthCheckResponse.NOT_SERVING or None,
                30,
                "NOT_SERVING",
            )
            redis_process = start_redis_server(redis_server_binary, redis_dir, port)
            wait_for(
                lambda: status() == health_pb2.HealthCheckResponse.SERVING or None,
                30,
                "SERVING again",
            )
        assert any("health: NOT_SERVING: redis" in line for line in server.log)
    finally:
        stop_process(redis_process)
