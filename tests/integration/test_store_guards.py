"""The store's guards against a second controller and stale followers, on a real Redis."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from clustercode.errors import FailedPreconditionError, LeaseError, StaleRunError
from clustercode.models import Job, JobState
from clustercode.store import keys
from clustercode.store.connection import RedisHandle
from clustercode.store.history import History
from clustercode.store.lease import Holder, Lease


def _job() -> Job:
    return Job(
        id="",
        source="/lib/a.mkv",
        fingerprint="fp1",
        profile="hevc",
        profile_hash="ph1",
        output="/out/a.mkv",
    )


async def test_a_second_lease_is_refused_naming_the_holder(redis_handle: RedisHandle) -> None:
    first = Lease(redis_handle, ttl=5)
    await first.acquire()
    second = Lease(redis_handle, ttl=5)

    with pytest.raises(LeaseError) as refused:
        await second.acquire()

    message = str(refused.value)
    assert f"pid {os.getpid()} on {first.holder.host} since " in message
    assert "--wait" in message
    await first.release()
    await second.acquire()
    assert await second.current() == second.holder


async def test_waiting_for_a_lease_takes_it_when_the_holder_lets_go(
    redis_handle: RedisHandle,
) -> None:
    first = Lease(redis_handle, ttl=5)
    await first.acquire()
    second = Lease(redis_handle, ttl=5)
    waited: list[Holder] = []
    waiting = asyncio.create_task(second.acquire(wait=True, on_wait=waited.append))
    await asyncio.sleep(0.3)
    assert not waiting.done()

    await first.release()
    await asyncio.wait_for(waiting, 10)

    assert waited == [first.holder]
    assert await second.current() == second.holder


async def test_the_lease_of_a_dead_process_on_this_host_is_taken_over(
    redis_handle: RedisHandle,
) -> None:
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    gone = Holder(id="x", host=Lease(redis_handle).holder.host, pid=dead.pid, since=1.0)
    await redis_handle.client.set(keys.LEASE, gone.encode(), px=60_000)
    lease = Lease(redis_handle)

    await lease.acquire()

    assert await lease.current() == lease.holder


async def test_a_holder_whose_lease_was_taken_finds_it_lost(redis_handle: RedisHandle) -> None:
    lease = Lease(redis_handle, ttl=5)
    await lease.acquire()
    assert await lease.renew()
    other = Holder(id="y", host="elsewhere", pid=1, since=2.0)
    await redis_handle.client.set(keys.LEASE, other.encode(), px=60_000)

    assert not await lease.renew()

    assert lease.lost.is_set()
    await lease.release()  # not ours: left alone
    assert await lease.current() == other


async def test_an_expired_lease_is_held_again_by_its_holder(redis_handle: RedisHandle) -> None:
    lease = Lease(redis_handle, ttl=5)
    await lease.acquire()
    await redis_handle.client.delete(keys.LEASE)

    assert await lease.renew()

    assert await lease.current() == lease.holder
    assert not lease.lost.is_set()


async def test_a_stale_follower_cannot_overwrite_a_newer_run(history: History) -> None:
    job = await history.create_job(_job())
    job = await history.set_state(job.id, JobState.RUNNING, runs=1, expect=(JobState.QUEUED,))
    # Another controller re-queued the job and started run 2.
    await history.set_state(job.id, JobState.QUEUED, expect_run=1)
    await history.set_state(job.id, JobState.RUNNING, runs=2, expect=(JobState.QUEUED,))

    with pytest.raises(StaleRunError, match="on run 2 \\(running\\), not run 1"):
        await history.set_state(job.id, JobState.FAILED, error="stale", expect_run=1)
    with pytest.raises(StaleRunError):
        await history.update_job(job.id, frames_done=5, expect_run=1)

    done = await history.set_state(job.id, JobState.SUCCEEDED, expect_run=2)
    assert done.state is JobState.SUCCEEDED
    with pytest.raises(FailedPreconditionError):
        await history.set_state(job.id, JobState.FAILED, expect_run=1)
    assert (await history.get_job(job.id)).state is JobState.SUCCEEDED


async def test_output_claims_name_the_job_and_source(history: History) -> None:
    assert await history.output_owner("/out/a.mkv") is None
    await history.claim_output("/out/a.mkv", "abc123", "/lib/a b.mkv")

    assert await history.output_owner("/out/a.mkv") == ("abc123", "/lib/a b.mkv")
    await history.claim_output("/out/a.mkv", "def456", "/lib/a.ts")
    assert await history.output_owner("/out/a.mkv") == ("def456", "/lib/a.ts")
