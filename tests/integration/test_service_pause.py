"""The control service pauses on an environment failure and resumes once the machine is fixed.

What ``clustercode serve`` runs, in this process: :meth:`Controller.open` on Debian's
redis-server, the local executor running the real steps, the scheduler and periodic scans of
:meth:`Controller.serve_forever`, and the gRPC API on a loopback port. The only thing shortened
is the pause (``pause_backoff``: 1.5 s instead of 30 s doubling to 10 min).

The environment: ``CLUSTERCODE_FFMPEG`` names a script in the test's directory that runs the
session's checked ffmpeg. First it is a build without libx264 (the script leaves libx264 out of
``-encoders``), which the profile needs: each try's first step exits 3. Then the script becomes
the whole ffmpeg, as when an administrator installs a build with the encoder, and the next try
transcodes the file.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from clustercode.api.v1 import jobs_pb2, service_pb2, service_pb2_grpc
from clustercode.backoff import Backoff
from clustercode.config import load_settings
from clustercode.jobs import Controller
from clustercode.jobs.scheduler import MAX_PAUSE_REASON
from clustercode.jobs.tools import require_ffmpeg
from pipelines.ffmpeg import FFMPEG_ENV, checked_ffmpeg, ffmpeg_path
from tests.integration.grpc_client import AUTH, serving
from tests.integration.serve_process import FAST_PROFILE, make_clip, video_frames

pytestmark = pytest.mark.timeout(180)

T = TypeVar("T")

PAUSE = 1.5
"""Seconds between the tries while paused (every pause waits the same)."""

WITHOUT_X264 = """#!/bin/sh
# An ffmpeg build without libx264: the real binary, with libx264 left out of its encoder list.
if [ "$2" = "-encoders" ]; then
    "{real}" "$@" | grep -v -E '^ V[A-Z.]{{5}} libx264 '
    exit 0
fi
exec "{real}" "$@"
"""

WHOLE = """#!/bin/sh
# The whole ffmpeg, libx264 included.
exec "{real}" "$@"
"""


def install(script: Path, text: str) -> None:
    """Put an ffmpeg build at ``script`` in one step, as a package upgrade replaces a binary
    (a new file: its size and modification time tell every check it changed)."""
    fresh = script.with_name(f".{script.name}.new")
    fresh.write_text(text)
    fresh.chmod(0o755)
    os.replace(fresh, script)


@pytest.fixture
def replaceable_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Path, str]]:
    """``CLUSTERCODE_FFMPEG`` names a script (without libx264 at first), and no other
    ``CLUSTERCODE_*`` variable of the caller's is set; yields the script and the real binary it
    runs (the caller's choice of ffmpeg).

    This process picks its ffmpeg once (``checked_ffmpeg`` is cached): the choice is made again
    for the script, and once more after the test, for the caller's environment. The check
    results go to a cache directory of the test's own, which the steps inherit.
    """
    real = ffmpeg_path()
    request.getfixturevalue("clean_env")
    script = tmp_path / "bin" / "ffmpeg"
    script.parent.mkdir()
    install(script, WITHOUT_X264.format(real=real))
    monkeypatch.setenv(FFMPEG_ENV, str(script))
    monkeypatch.setenv("CLUSTERCODE_CACHE_DIR", str(tmp_path / "cache"))
    checked_ffmpeg.cache_clear()
    try:
        yield script, real
    finally:
        checked_ffmpeg.cache_clear()


async def poll(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str) -> T:
    """Call ``fetch`` until ``done`` holds for its answer; fail after 60 s."""
    deadline = time.monotonic() + 60
    while True:
        value = await fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {value}"
        await asyncio.sleep(0.05)


async def test_serve_pauses_on_a_missing_encoder_and_resumes_after_the_fix(
    tmp_path: Path, redis_server_url: str, replaceable_ffmpeg: tuple[Path, str]
) -> None:
    script, real = replaceable_ffmpeg
    with redis.Redis.from_url(redis_server_url) as client:
        client.flushdb()
    source = make_clip(tmp_path / "library" / "films" / "clip.mkv", duration=2.0, size="160x90")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "fast.yaml").write_text(FAST_PROFILE)  # libx264
    settings = load_settings(
        None,
        libraries=[tmp_path / "library"],
        output=tmp_path / "out",
        state_dir=tmp_path / "state",
        profiles_dir=tmp_path / "profiles",
        profile="fast",
        redis_url=redis_server_url,
        settle_seconds=0,
        slice_seconds=1,
        parallel=2,
        max_attempts=1,  # an attempt used up would park the job at once
        retry_backoff=0,
    )
    assert (await require_ffmpeg(settings)) is not None  # as `serve` checks before it starts

    backoff = Backoff(initial=PAUSE, factor=1.0, maximum=PAUSE)
    async with (
        Controller.open(settings, pause_backoff=backoff) as ctl,
        serving(ctl) as (_, channel),
    ):
        stub = service_pb2_grpc.ClustercodeServiceStub(channel)

        async def status() -> service_pb2.GetStatusResponse:
            return await stub.GetStatus(service_pb2.GetStatusRequest(), metadata=AUTH, timeout=10)

        async def jobs() -> list[jobs_pb2.Job]:
            reply = await stub.ListJobs(service_pb2.ListJobsRequest(), metadata=AUTH, timeout=10)
            return list(reply.jobs)

        stop = asyncio.Event()
        background = asyncio.create_task(ctl.serve_forever(stop))
        try:
            # The start-up scan queues the file; its first try and the try after the first
            # pause both fail on the missing encoder.
            paused = await poll(
                status,
                lambda s: s.HasField("pause") and s.pause.pauses >= 2,
                "a second pause",
            )
            asked_at = time.time()
            [job] = await jobs()
            pause = paused.pause
            assert pause.reason == ctl.scheduler.paused
            assert pause.reason.startswith(
                f"clustercode-step split: encoder libx264 is not in ffmpeg {script} ("
            ), pause.reason
            assert "\n" not in pause.reason and len(pause.reason) <= MAX_PAUSE_REASON
            next_try = pause.next_try_time.ToMicroseconds() / 1_000_000
            assert asked_at - 0.5 <= next_try <= asked_at + PAUSE
            # The job is queued again with no attempt used, and is not parked.
            assert job.source == str(source)
            assert (job.state, job.attempts) == (jobs_pb2.JOB_STATE_QUEUED, 0), job
            assert job.error.startswith(
                "waiting for a usable environment (no attempt used): clustercode-step split: "
                "encoder libx264 is not in ffmpeg"
            ), job.error
            assert (paused.queue_depth, paused.active_jobs) == (1, 0)
            counts = {c.state: c.count for c in paused.job_counts}
            assert counts[jobs_pb2.JOB_STATE_PARKED] == counts[jobs_pb2.JOB_STATE_FAILED] == 0

            install(script, WHOLE.format(real=real))
            # Fixed well within the pause: it still waits for its next try.
            fixed = await status()
            assert fixed.HasField("pause") and fixed.pause.pauses == pause.pauses
            resume_at = fixed.pause.next_try_time.ToMicroseconds() / 1_000_000
            [done] = await poll(
                jobs,
                lambda js: len(js) == 1 and js[0].state == jobs_pb2.JOB_STATE_SUCCEEDED,
                "the job to succeed",
            )
            after = await status()
        finally:
            stop.set()
            await background

    # The next try started the job (not earlier), and it transcoded the whole file.
    assert done.start_time.ToMicroseconds() / 1_000_000 >= resume_at - 0.05
    assert (done.attempts, done.error) == (1, "")
    output = tmp_path / "out" / "films" / "clip.mkv"
    assert done.output == str(output)
    assert video_frames(output) == video_frames(source) == 50
    # Resumed: no pause any more, and nothing parked or failed on the way.
    assert not after.HasField("pause")
    assert ctl.scheduler.paused is None and ctl.scheduler.pause_status is None
    counts = {c.state: c.count for c in after.job_counts}
    assert counts[jobs_pb2.JOB_STATE_SUCCEEDED] == 1
    assert counts[jobs_pb2.JOB_STATE_PARKED] == counts[jobs_pb2.JOB_STATE_FAILED] == 0
