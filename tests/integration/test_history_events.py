"""History against real Redis servers (Debian's redis-server and the embedded one): deleting
jobs, the event stream (resume, follow, cap) and per-job slice progress."""

from __future__ import annotations

import asyncio

import pytest

from clustercode.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from clustercode.models import JobEvent, JobState, SliceProgress
from clustercode.store import keys
from clustercode.store.connection import RedisHandle
from clustercode.store.history import FileRecord, History
from tests.support.history import make_job

pytestmark = pytest.mark.timeout(120)


async def test_delete_removes_every_key_of_the_job(redis_handle: RedisHandle) -> None:
    history = History(redis_handle)
    client = redis_handle.client
    job = await history.create_job(make_job(1))
    kept = await history.create_job(make_job(2))
    await history.put_files(
        [FileRecord(path=job.source, size=1, mtime_ns=1, ino=1, fingerprint=job.fingerprint)]
    )
    await history.set_state(job.id, JobState.RUNNING)
    await history.set_slices(job.id, [SliceProgress(index=i, frames_total=9) for i in range(4)])
    await history.update_slice(job.id, SliceProgress(index=2, frames_total=9, frames_done=9))
    await history.set_state(job.id, JobState.SUCCEEDED)

    deleted = await history.delete_job(job.id)
    assert (deleted.id, deleted.state) == (job.id, JobState.SUCCEEDED)

    remaining = sorted([str(k) async for k in client.scan_iter(match=f"{keys.PREFIX}*")])
    assert [k for k in remaining if job.id in k] == []
    for key in remaining:
        kind = await client.type(key)
        if kind == "zset":
            assert await client.zscore(key, job.id) is None, key
        elif kind == "hash" and key != keys.FILES:
            assert not [v for v in await client.hvals(key) if job.id in v], key
    assert keys.job(kept.id) in remaining
    assert keys.FILES in remaining  # the path cache keeps the fingerprint: no re-hash
    with pytest.raises(NotFoundError):
        await history.get_job(job.id)
    assert await history.find_job(job.fingerprint, job.profile_hash) is None
    events = await history.events("0", count=1000)
    assert (events[-1].kind, events[-1].job_id) == ("deleted", job.id)
    again = await history.create_job(make_job(1))  # the next scan queues the file again
    assert again.id != job.id
    with pytest.raises(NotFoundError):
        await history.delete_job(job.id)


async def test_delete_of_running_job_is_refused(history: History) -> None:
    job = await history.create_job(make_job(1))
    running = await history.set_state(job.id, JobState.RUNNING)
    with pytest.raises(
        FailedPreconditionError, match=f"^job {job.id} is running: cancel it first$"
    ):
        await history.delete_job(job.id)
    assert await history.get_job(job.id) == running


async def test_events_resume_after_an_id(history: History) -> None:
    job = await history.create_job(make_job(1))
    await history.set_state(job.id, JobState.RUNNING)
    await history.update_slice(job.id, SliceProgress(index=0, frames_total=10, frames_done=4))
    await history.update_slice(job.id, SliceProgress(index=0, frames_total=10), emit=False)
    await history.set_state(job.id, JobState.SUCCEEDED)
    events = await history.events("0")
    assert [(e.kind, e.job.state) for e in events] == [
        ("state", JobState.QUEUED),
        ("state", JobState.RUNNING),
        ("slice", JobState.RUNNING),
        ("state", JobState.SUCCEEDED),
    ]
    assert events[1].extra == {"from": "queued"}
    assert events[2].slice == SliceProgress(index=0, frames_total=10, frames_done=4)
    first_three = await history.events("0", count=3)
    assert first_three == events[:3]
    resumed = await history.events(first_three[1].id)
    assert resumed == events[2:]
    assert await history.events(events[-1].id) == []
    assert await history.first_event_id() == events[0].id
    assert await history.last_event_id() == events[-1].id
    with pytest.raises(InvalidArgumentError, match=r"^after: 'yesterday' is not an event id"):
        await history.events("yesterday")


async def test_updates_are_announced_only_when_asked(history: History) -> None:
    job = await history.create_job(make_job(1))
    await history.update_job(job.id, frames_done=1)
    updated = await history.update_job(job.id, emit=True, output="/out/renamed.mkv")
    events = await history.events("0")
    assert [(e.kind, e.job) for e in events] == [("state", job), ("update", updated)]


async def test_follow_yields_new_events_in_order(history: History) -> None:
    job = await history.create_job(make_job(1))
    received: list[JobEvent] = []

    async def watch() -> None:
        async for event in history.follow("$", block_ms=200):
            received.append(event)
            if len(received) == 3:
                return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.1)  # the watcher pins "$" before the events below
    await history.set_state(job.id, JobState.RUNNING)
    for done in (3, 6):
        await history.update_slice(job.id, SliceProgress(index=0, frames_total=6, frames_done=done))
    await asyncio.wait_for(watcher, 10)
    assert [e.kind for e in received] == ["state", "slice", "slice"]
    assert [e.slice.frames_done for e in received[1:] if e.slice] == [3, 6]


async def test_event_stream_is_capped(redis_handle: RedisHandle) -> None:
    history = History(redis_handle, events_maxlen=50)
    job = await history.create_job(make_job(1))
    ids = [
        await history.update_slice(job.id, SliceProgress(index=0, frames_total=600, frames_done=n))
        for n in range(600)
    ]
    length = await redis_handle.client.xlen(keys.EVENTS)
    # Approximate trimming drops whole stream nodes (100 entries each).
    assert 50 <= length <= 150
    retained = await history.events("0", count=1000)
    assert [e.id for e in retained] == ids[-length:]


async def test_slices_of_a_missing_job(history: History) -> None:
    with pytest.raises(NotFoundError):
        await history.update_slice("gone", SliceProgress(index=0, frames_total=1))
    with pytest.raises(NotFoundError):
        await history.get_slices("gone")
    with pytest.raises(NotFoundError):
        await history.set_slices("gone", [SliceProgress(index=0, frames_total=1)])
    job = await history.create_job(make_job(1))
    await history.set_slices(job.id, [SliceProgress(index=i, frames_total=5) for i in (10, 2, 1)])
    assert [s.index for s in await history.get_slices(job.id)] == [1, 2, 10]
