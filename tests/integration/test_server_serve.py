"""serve() and ApiServer: the exposure check, binding, the stop event, SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import grpc
import pytest

from clustercode.api.v1 import service_pb2
from clustercode.errors import ConfigError
from clustercode.server import ApiServer, serve
from tests.integration.grpc_client import AUTH, TOKEN, call
from tests.integration.server_double import ControlDouble

ROOT = Path(__file__).resolve().parents[2]


async def status_version(target: str) -> str:
    """Call GetStatus on target with the token; return the version."""
    async with grpc.aio.insecure_channel(target) as channel:
        (response,) = await call(channel, "GetStatus", service_pb2.GetStatusRequest())
    return str(response.version)


@pytest.mark.parametrize("listen", ["0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:50051", "nas:1"])
def test_refuses_remote_address_without_token(listen: str) -> None:
    with pytest.raises(ConfigError, match=r"refusing to listen on .* without a token"):
        ApiServer(ControlDouble(), listen=listen, token=None)


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000", ""])
def test_rejects_malformed_listen_address(listen: str) -> None:
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        ApiServer(ControlDouble(), listen=listen, token=TOKEN)


async def test_remote_address_with_token_serves() -> None:
    async with ApiServer(ControlDouble(), listen="0.0.0.0:0", token=TOKEN) as server:
        assert server.bound_port > 0
        assert server.address == f"0.0.0.0:{server.bound_port}"
        assert server.target == f"127.0.0.1:{server.bound_port}"
        assert await status_version(server.target) == "0.1.0"


async def test_unix_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "api.sock"
    async with ApiServer(ControlDouble(), listen=f"unix:{socket_path}", token=None) as server:
        assert (server.bound_port, server.target) == (0, f"unix:{socket_path}")
        assert socket_path.is_socket()
        assert await status_version(server.target) == "0.1.0"


async def test_insecure_remote_when_allowed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="clustercode.server.app"):
        server = ApiServer(
            ControlDouble(), listen="0.0.0.0:0", token=None, allow_insecure_remote=True
        )
    assert "without a token" in caplog.text
    async with server:
        assert server.bound_port > 0


async def test_port_in_use_is_a_config_error() -> None:
    async with ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN) as first:
        second = ApiServer(ControlDouble(), listen=f"127.0.0.1:{first.bound_port}", token=TOKEN)
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:"):
            await second.start()
        assert await status_version(first.target) == "0.1.0"


async def test_bound_port_before_start_is_an_error() -> None:
    server = ApiServer(ControlDouble(), listen="127.0.0.1:0", token=TOKEN)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.bound_port


async def test_serve_until_stop_event() -> None:
    stop = asyncio.Event()
    started: asyncio.Future[ApiServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(
            ControlDouble(),
            listen="127.0.0.1:0",
            token=TOKEN,
            allow_insecure_remote=False,
            stop=stop,
            on_listening=started.set_result,
        )
    )
    server = await asyncio.wait_for(started, 10)
    assert await status_version(server.target) == "0.1.0"
    stop.set()
    await asyncio.wait_for(task, 10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await asyncio.wait_for(status_version(server.target), 10)
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE


async def test_serve_refuses_before_binding() -> None:
    with pytest.raises(ConfigError, match="refusing"):
        await serve(
            ControlDouble(), listen="0.0.0.0:0", token=None, allow_insecure_remote=False, stop=None
        )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_shuts_down_gracefully(signum: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.server_double",
        "127.0.0.1:0",
        TOKEN,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        port = int(await asyncio.wait_for(process.stdout.readline(), 30))
        target = f"127.0.0.1:{port}"
        assert await status_version(target) == "0.1.0"
        async with grpc.aio.insecure_channel(target) as channel:
            watch = channel.unary_stream(
                "/clustercode.v1.ClustercodeService/WatchJobs",
                request_serializer=service_pb2.WatchJobsRequest.SerializeToString,
                response_deserializer=service_pb2.WatchJobsResponse.FromString,
            )(service_pb2.WatchJobsRequest(), metadata=AUTH)
            await watch.wait_for_connection()
            process.send_signal(signum)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await asyncio.wait_for(watch.read(), 10)
        # The open watch ends at once; the grace period (10 s) is not waited out.
        code = await asyncio.wait_for(process.wait(), 5)
        _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert code == 0, stderr.decode()
    log = stderr.decode()
    assert f"received {signum.name}, shutting down" in log
    assert "clustercode API stopped" in log
