"""History against real Redis servers (Debian's redis-server and the embedded one): creating
jobs, state transitions, racing writers, queue and history order, paging, batch look-ups and the
path cache."""

from __future__ import annotations

import asyncio

import pytest

from clustercode.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from clustercode.models import Job, JobState
from clustercode.store import keys
from clustercode.store.connection import RedisHandle
from clustercode.store.history import FileRecord, History, JobRef
from tests.support.history import make_job

pytestmark = pytest.mark.timeout(120)


class Clock:
    """A settable clock, so that ordering by time is exact."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


async def members(handle: RedisHandle, key: str) -> list[str]:
    """The members of a sorted set in score order."""
    return [str(m) for m in await handle.client.zrange(key, 0, -1)]


async def test_create_and_transitions_move_between_state_sets(redis_handle: RedisHandle) -> None:
    history = History(redis_handle, clock=Clock())
    client = redis_handle.client
    job = await history.create_job(make_job(1))
    assert len(job.id) == keys.JOB_ID_LENGTH
    assert job.created_at == 1_700_000_001.0
    assert await history.get_job(job.id) == job
    assert await client.exists(keys.job(job.id)) == 1
    assert await members(redis_handle, keys.state(JobState.QUEUED)) == [job.id]
    assert await client.zscore(keys.JOBS, job.id) == job.created_at
    index = keys.fingerprint("fp000001")
    assert await client.hget(index, "ph1") == f"{job.id} queued"

    running = await history.set_state(job.id, JobState.RUNNING, run_id="wf-1")
    assert (running.state, running.attempts, running.run_id) == (JobState.RUNNING, 1, "wf-1")
    assert running.started_at == 1_700_000_002.0
    assert await client.zscore(keys.state(JobState.QUEUED), job.id) is None
    assert await client.zscore(keys.state(JobState.RUNNING), job.id) == running.started_at
    assert await client.hget(index, "ph1") == f"{job.id} running"

    progressed = await history.update_job(job.id, frames_done=50, frames_total=100)
    assert (progressed.frames_done, progressed.state) == (50, JobState.RUNNING)

    done = await history.set_state(job.id, JobState.SUCCEEDED, size_after=123)
    assert done.finished_at == 1_700_000_004.0
    assert (done.size_after, done.frames_done, done.error) == (123, 50, "")
    assert await client.zscore(keys.state(JobState.RUNNING), job.id) is None
    assert await client.zscore(keys.state(JobState.SUCCEEDED), job.id) == done.finished_at
    assert await client.zscore(keys.HISTORY, job.id) == done.finished_at
    assert await client.hget(index, "ph1") == f"{job.id} succeeded"
    assert await history.get_job(job.id) == done

    requeued = await history.set_state(job.id, JobState.QUEUED)
    assert (requeued.started_at, requeued.finished_at, requeued.attempts) == (None, None, 1)
    assert await client.zscore(keys.HISTORY, job.id) is None
    assert await members(redis_handle, keys.state(JobState.QUEUED)) == [job.id]
    assert await history.counts() == {
        JobState.QUEUED: 1,
        JobState.RUNNING: 0,
        JobState.SUCCEEDED: 0,
        JobState.FAILED: 0,
        JobState.CANCELLED: 0,
        JobState.PARKED: 0,
    }


async def test_missing_job_and_refused_changes(history: History) -> None:
    with pytest.raises(NotFoundError, match=r"^job nope not found$"):
        await history.get_job("nope")
    with pytest.raises(NotFoundError, match=r"^job nope not found$"):
        await history.set_state("nope", JobState.RUNNING)
    job = await history.create_job(make_job(1))
    with pytest.raises(ValueError, match="cannot change state"):
        await history.update_job(job.id, state=JobState.FAILED)
    done = await history.set_state(job.id, JobState.SUCCEEDED)
    with pytest.raises(FailedPreconditionError, match=f"job {job.id} is succeeded, not queued"):
        await history.set_state(job.id, JobState.CANCELLED, expect={JobState.QUEUED})
    assert await history.get_job(job.id) == done


async def test_one_job_per_content_and_profile(history: History) -> None:
    first = await history.create_job(make_job(1))
    with pytest.raises(FailedPreconditionError) as refused:
        await history.create_job(make_job(1, source="/library/renamed.mkv"))
    assert str(refused.value) == (
        f"/library/renamed.mkv already has job {first.id} (queued) under profile 'hevc': "
        "retry or delete that job"
    )
    other_profile = await history.create_job(make_job(1, profile="av1", profile_hash="ph2"))
    assert other_profile.id != first.id
    assert {j.id for j in await history.find_by_fingerprint("fp000001")} == {
        first.id,
        other_profile.id,
    }


async def warm_pool(handle: RedisHandle, size: int) -> None:
    """Open ``size`` pooled connections, so that concurrent calls really interleave."""

    async def ping() -> None:
        async with handle.client.pipeline(transaction=False) as pipe:
            pipe.ping()
            await pipe.execute()

    await asyncio.gather(*(ping() for _ in range(size)))


async def test_racing_writers_cannot_both_win(redis_handle: RedisHandle) -> None:
    history = History(redis_handle)
    # Each call runs its WATCH/MULTI on its own pooled connection, as separate processes would.
    await warm_pool(redis_handle, 10)
    results = await asyncio.gather(
        *(history.create_job(make_job(1, source=f"/library/copy-{n}.mkv")) for n in range(5)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, Job)]
    assert len(created) == 1
    assert all(isinstance(r, FailedPreconditionError) for r in results if r not in created)
    job = created[0]
    await history.set_state(job.id, JobState.RUNNING)
    outcomes = await asyncio.gather(
        history.set_state(job.id, JobState.SUCCEEDED, expect={JobState.RUNNING}),
        history.set_state(job.id, JobState.CANCELLED, expect={JobState.RUNNING}),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, Job)]
    assert len(winners) == 1
    assert (await history.get_job(job.id)).state is winners[0].state
    assert await history.count(winners[0].state) == 1
    assert await history.count(JobState.RUNNING) == 0


async def test_queue_order_follows_priority_then_age(redis_handle: RedisHandle) -> None:
    history = History(redis_handle, clock=Clock())
    low = await history.create_job(make_job(1))
    high = await history.create_job(make_job(2, priority=5))
    low2 = await history.create_job(make_job(3))
    assert [j.id for j in await history.next_queued(10)] == [high.id, low.id, low2.id]
    await history.update_job(low2.id, priority=9)
    assert [j.id for j in await history.next_queued(2)] == [low2.id, high.id]
    listed, token = await history.list_jobs(JobState.QUEUED)
    assert ([j.id for j in listed], token) == ([low2.id, high.id, low.id], "")
    assert await history.next_queued(0) == []


async def test_history_lists_most_recently_finished_first(redis_handle: RedisHandle) -> None:
    history = History(redis_handle, clock=Clock())
    jobs = [await history.create_job(make_job(n)) for n in range(4)]
    for job, state in zip(
        [jobs[2], jobs[0], jobs[3]],
        [JobState.SUCCEEDED, JobState.PARKED, JobState.FAILED],
        strict=True,
    ):
        await history.set_state(job.id, state)
    expected = [jobs[3].id, jobs[0].id, jobs[2].id]
    assert list(reversed(await members(redis_handle, keys.HISTORY))) == expected
    page, token = await history.list_history(page_size=2)
    rest, last = await history.list_history(page_size=2, page_token=token)
    assert [j.id for j in page + rest] == expected
    assert last == ""


async def test_paging_250_jobs(history: History) -> None:
    # Groups of five jobs share a creation time: the cursor must order ties too.
    created = []
    for n in range(250):
        job = await history.create_job(make_job(n, created_at=1_600_000_000.0 + n // 5))
        if n % 5 == 0:
            job = await history.set_state(job.id, JobState.SUCCEEDED)
        created.append(job)
    pages: list[list[Job]] = []
    token = ""
    while True:
        page, token = await history.list_jobs(None, 100, token)
        pages.append(page)
        if not token:
            break
        if len(pages) == 1:  # a job created while paging goes to the front, shifting nothing
            await history.create_job(make_job(999, created_at=1_700_000_000.0))
    assert [len(p) for p in pages] == [100, 100, 50]
    seen = [j.id for p in pages for j in p]
    assert len(set(seen)) == 250
    assert set(seen) == {j.id for j in created}
    times = [j.created_at for p in pages for j in p]
    assert times == sorted(times, reverse=True)

    succeeded: list[str] = []
    token = ""
    for _ in range(10):
        page, token = await history.list_jobs(JobState.SUCCEEDED, 20, token)
        assert all(j.state is JobState.SUCCEEDED for j in page)
        succeeded.extend(j.id for j in page)
        if not token:
            break
    assert len(succeeded) == len(set(succeeded)) == 50
    assert set(succeeded) == {j.id for j in created[::5]}


async def test_page_arguments_are_checked(history: History) -> None:
    for n in range(3):
        await history.create_job(make_job(n))
    _, token = await history.list_jobs(JobState.QUEUED, 1)
    with pytest.raises(InvalidArgumentError) as wrong_scope:
        await history.list_jobs(JobState.FAILED, 1, token)
    assert wrong_scope.value.field == "page_token"
    with pytest.raises(InvalidArgumentError, match=r"^page_token: is not a token"):
        await history.list_jobs(None, 1, "not-a-token")
    with pytest.raises(InvalidArgumentError, match=r"^page_size: must not be negative"):
        await history.list_jobs(None, -1)
    page, _ = await history.list_jobs(None, 0)
    assert len(page) == 3


async def test_find_jobs_in_batch(history: History) -> None:
    jobs = [await history.create_job(make_job(n)) for n in range(300)]
    for job in jobs[::3]:
        await history.set_state(job.id, JobState.SUCCEEDED)
    jobs = await history.get_jobs([j.id for j in jobs])
    pairs = [(f"fp{n:06d}", "ph1") for n in range(500)] + [("fp000001", "other-profile")]
    found = await history.find_jobs(pairs)
    assert found == {(j.fingerprint, "ph1"): j for j in jobs}
    refs = await history.find_refs(pairs * 20)  # 10,020 pairs: more than one batch
    assert refs == {(j.fingerprint, "ph1"): JobRef(id=j.id, state=j.state) for j in jobs}
    assert sum(ref.state is JobState.SUCCEEDED for ref in refs.values()) == 100
    assert await history.find_job("fp000007", "ph1") == jobs[7]
    assert await history.find_job("fp000400", "ph1") is None


async def test_path_cache(redis_handle: RedisHandle) -> None:
    history = History(redis_handle)
    records = [
        FileRecord(path=f"/library/{n}.mkv", size=n, mtime_ns=n * 7, ino=n + 1, fingerprint=f"f{n}")
        for n in range(12_000)  # more than one pipeline batch
    ]
    await history.put_files(records)
    paths = [r.path for r in records] + ["/library/unknown.mkv"]
    assert await history.get_files(paths) == {r.path: r for r in records}
    await history.forget_file(records[0].path)
    await redis_handle.client.hset(keys.FILES, records[1].path, '{"size": "x"}')
    cached = await history.get_files([r.path for r in records[:3]])
    assert list(cached) == [records[2].path]
    await redis_handle.client.hset(keys.FILES, records[3].path, "not json {")
    cached = await history.get_files([r.path for r in records[:5]])
    assert list(cached) == [records[2].path, records[4].path]
