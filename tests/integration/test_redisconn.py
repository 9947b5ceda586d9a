"""Connecting to Redis: the embedded server's life and persistence, and unreachable servers."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from clustercode.errors import ConfigError, UnavailableError
from clustercode.models import Job, JobState
from clustercode.store.connection import connect
from clustercode.store.embedded import EmbeddedRedis
from clustercode.store.history import History
from tests.integration.conftest import free_port, start_redis_server, stop_process

pytestmark = pytest.mark.timeout(120)


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


JOB = Job(
    id="",
    source="/library/a.mkv",
    fingerprint="fp-a",
    profile="hevc",
    profile_hash="ph",
    output="/out/a.mkv",
)


async def test_embedded_data_survives_a_restart(tmp_path: Path) -> None:
    async with await connect(None, tmp_path) as handle:
        assert handle.embedded is not None
        pid = handle.embedded.pid()
        assert pid is not None
        history = History(handle)
        job = await history.create_job(JOB)
        done = await history.set_state(job.id, JobState.SUCCEEDED)
    assert gone(pid)
    assert not handle.embedded.socket_path.exists()
    assert (tmp_path / "redis" / "clustercode.aof").stat().st_size > 0

    async with await connect(None, tmp_path) as handle:
        assert handle.embedded is not None
        assert handle.embedded.pid() != pid
        history = History(handle)
        assert await history.get_job(job.id) == done
        assert await history.find_job("fp-a", "ph") == done
        assert [e.job for e in await history.events("0")] == [job, done]


async def test_processes_share_one_embedded_server(tmp_path: Path) -> None:
    # Each handle takes its own file locks, exactly as two processes would.
    first = await connect(None, tmp_path)
    second = await connect(None, tmp_path)
    assert first.embedded is not None and second.embedded is not None
    assert (first.embedded.started, second.embedded.started) == (True, False)
    pid = first.embedded.pid()
    assert pid is not None and second.embedded.pid() == pid
    await first.client.set("clustercode:test", "shared")
    await first.close()
    assert not gone(pid)  # still in use by the second
    assert await second.client.get("clustercode:test") == "shared"
    await second.close()
    assert gone(pid)


CHILD = """
import asyncio, sys
from pathlib import Path
from clustercode.store.connection import connect

async def main():
    async with await connect(None, Path(sys.argv[1])) as handle:
        await handle.client.set("clustercode:child", "here")
        print(handle.embedded.pid(), handle.embedded.started, flush=True)
        await asyncio.to_thread(sys.stdin.readline)

asyncio.run(main())
"""


async def test_another_process_shares_the_embedded_server(tmp_path: Path) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        pid_text, started = line.decode().split()
        pid = int(pid_text)
        assert started == "True"
        async with await connect(None, tmp_path) as handle:
            assert handle.embedded is not None
            assert (handle.embedded.started, handle.embedded.pid()) == (False, pid)
            assert await handle.client.get("clustercode:child") == "here"
        assert not gone(pid)  # the child still uses it
        child.stdin.write(b"done\n")
        await child.stdin.drain()
        assert await asyncio.wait_for(child.wait(), 30) == 0
        assert gone(pid)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()


def test_a_server_left_by_a_dead_process_is_reused_and_stopped(tmp_path: Path) -> None:
    crashed = EmbeddedRedis(tmp_path)
    crashed.start()
    pid = crashed.pid()
    assert pid is not None
    # A process that dies drops its locks without stopping the server.
    assert crashed._users is not None
    crashed._users.close()
    crashed._users = None

    survivor = EmbeddedRedis(tmp_path)
    survivor.start()
    assert (survivor.started, survivor.pid()) == (False, pid)
    assert survivor.stop() is True
    assert gone(pid)


def test_long_state_dir_gets_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["state-directory-with-a-long-name"] * 4)
    server = EmbeddedRedis(deep)
    assert len(os.fsencode(deep / "redis" / "redis.sock")) > 100
    assert server.socket_path.parent != server.directory
    server.start()
    try:
        assert server.socket_path.is_socket()
    finally:
        assert server.stop() is True
    assert not server.socket_path.exists()


def test_embedded_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL CONFIG FILE ERROR: bad option' >&2\nexit 1\n")
    fake.chmod(0o755)
    server = EmbeddedRedis(tmp_path / "state", executable=fake)
    with pytest.raises(UnavailableError) as failed:
        server.start()
    assert str(failed.value) == (
        f"embedded redis in {server.directory} did not start (exit 1): "
        "FATAL CONFIG FILE ERROR: bad option"
    )


async def test_unreachable_url(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(UnavailableError) as refused:
        await connect(f"redis://127.0.0.1:{port}", tmp_path)
    assert str(refused.value) == f"redis at redis://127.0.0.1:{port}: connection refused"
    with pytest.raises(UnavailableError) as secret:
        await connect(f"redis://:hunter2@127.0.0.1:{port}/0", tmp_path)
    assert str(secret.value) == f"redis at redis://:***@127.0.0.1:{port}/0: connection refused"
    with pytest.raises(UnavailableError) as no_socket:
        await connect(f"unix://{tmp_path}/none.sock", tmp_path)
    assert str(no_socket.value) == f"redis at unix://{tmp_path}/none.sock: no such socket file"
    with pytest.raises(ConfigError, match=r"^redis url 'http://x': "):
        await connect("http://x", tmp_path)


async def test_redis_going_away_is_unavailable(redis_server_binary: str, tmp_path: Path) -> None:
    port = free_port()
    process = start_redis_server(redis_server_binary, tmp_path, port)
    try:
        handle = await connect(f"redis://127.0.0.1:{port}", tmp_path)
        history = History(handle)
        job = await history.create_job(JOB)
    finally:
        stop_process(process)
    try:
        with pytest.raises(UnavailableError, match=rf"^redis at redis://127.0.0.1:{port}: conn"):
            await history.get_job(job.id)
        with pytest.raises(UnavailableError):
            await history.ping()
        with pytest.raises(UnavailableError):
            await history.list_jobs()
    finally:
        await handle.close()


async def test_the_server_fixture_runs_debians_redis(redis_server_url: str, tmp_path: Path) -> None:
    async with await connect(redis_server_url, tmp_path) as handle:
        info = await handle.client.info("server")
    assert info["executable"] == "/usr/bin/redis-server"
