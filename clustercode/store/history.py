"""The job store: job records, their states, the fingerprint index, slices and the event stream.

All data lives in Redis under the keys of :mod:`clustercode.store.keys`. Every change to a job
(record, state sets, history set, fingerprint index) happens in one MULTI/EXEC transaction
guarded by WATCH on the job record, together with the event that announces it: watchers never
see a change that did not happen, and no change happens unannounced. Redis failures surface as
:class:`clustercode.errors.UnavailableError`.

:class:`History` gathers the store's parts: writes (here), reads
(:mod:`clustercode.store.queries`), the event stream (:mod:`clustercode.store.events`) and the
path cache (:mod:`clustercode.store.filecache`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import redis.exceptions
from redis.asyncio.client import Pipeline

from clustercode.errors import (
    FailedPreconditionError,
    NotFoundError,
    StaleRunError,
    UnavailableError,
)
from clustercode.models import Job, JobState, SliceProgress
from clustercode.store import keys
from clustercode.store._base import multi, text, translated
from clustercode.store._codec import (
    decode_job,
    encode_job,
    encode_slice,
    index_entry,
    index_entry_id,
)
from clustercode.store.events import EventLog
from clustercode.store.filecache import FileCache, FileRecord
from clustercode.store.outputs import OutputIndex
from clustercode.store.queries import JobQueries, JobRef

__all__ = ["FINISHED_STATES", "FileRecord", "History", "JobRef"]

FINISHED_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.PARKED}
)
"""States with a finish time; their jobs are in the history set."""

_FIXED_FIELDS = frozenset({"id", "state", "fingerprint", "profile_hash", "created_at"})
_TX_ATTEMPTS = 100
_T = TypeVar("_T")


class History(JobQueries, EventLog, FileCache, OutputIndex):
    """The job store of one Redis database.

    Construct with ``History(handle)`` (see :func:`clustercode.store.connection.connect`); optional
    keywords ``events_maxlen`` (stream cap) and ``clock`` (unix time source).
    """

    @translated
    async def ping(self) -> None:
        """Check that Redis answers.

        Raises:
            UnavailableError: it does not.
        """
        await self._client.ping()

    @translated
    async def create_job(self, job: Job) -> Job:
        """Store a new job, index it and announce it with a ``state`` event.

        Args:
            job: the job; an empty ``id`` gets a new one, a zero ``created_at`` the current time.

        Returns:
            The stored job.

        Raises:
            ValueError: the job has no fingerprint or profile hash.
            FailedPreconditionError: the id exists, or the same content under the same profile
                already has a job.
        """
        if not job.fingerprint or not job.profile_hash:
            raise ValueError("a job needs a fingerprint and a profile hash")
        now = self._clock()
        job = replace(job, id=job.id or keys.new_job_id(), created_at=job.created_at or now)
        job_key, fp_key = keys.job(job.id), keys.fingerprint(job.fingerprint)

        async def body(pipe: Pipeline) -> Job:
            if await pipe.exists(job_key):
                raise FailedPreconditionError(f"job {job.id} already exists")
            entry = text(await pipe.hget(fp_key, job.profile_hash))
            other_id = index_entry_id(entry) if entry else ""
            if other_id and (raw := text(await pipe.get(keys.job(other_id)))):
                other = decode_job(raw, other_id)
                raise FailedPreconditionError(
                    f"{job.source} already has job {other_id} ({other.state}) under profile "
                    f"{other.profile!r}: retry or delete that job"
                )
            multi(pipe)
            pipe.set(job_key, encode_job(job))
            pipe.zadd(keys.JOBS, {job.id: job.created_at})
            pipe.zadd(keys.state(job.state), {job.id: _score(job, now)})
            if job.state in FINISHED_STATES:
                pipe.zadd(keys.HISTORY, {job.id: _score(job, now)})
            pipe.hset(fp_key, job.profile_hash, index_entry(job))
            self._emit(pipe, "state", job, now)
            return job

        # The fingerprint hash is watched too: two scans must not create two jobs for one file.
        return await self._transact([job_key, fp_key], body)

    @translated
    async def update_job(
        self, job_id: str, /, *, emit: bool = False, expect_run: int | None = None, **changes: Any
    ) -> Job:
        """Change fields of a job other than its state.

        Args:
            job_id: the job.
            emit: announce the change with an ``update`` event (progress counters usually don't).
            expect_run: if given, the change happens only while the job is on this run number
                (``runs``), checked atomically; otherwise :class:`StaleRunError`.
            **changes: Job fields and their new values; a new priority re-orders the queue.

        Returns:
            The job after the change.

        Raises:
            NotFoundError: there is no such job.
            ValueError: a change names id, state (use :meth:`set_state`), fingerprint,
                profile_hash or created_at.
        """
        fixed = _FIXED_FIELDS.intersection(changes)
        if fixed:
            raise ValueError(f"update_job cannot change {', '.join(sorted(fixed))}")
        return await self._change(
            job_id, "update" if emit else "", None, lambda job: changes, expect_run=expect_run
        )

    @translated
    async def set_state(
        self,
        job_id: str,
        state: JobState,
        /,
        *,
        error: str = "",
        expect: Collection[JobState] | None = None,
        expect_run: int | None = None,
        **changes: Any,
    ) -> Job:
        """Move a job to ``state`` and announce it with a ``state`` event.

        Entering ``running`` sets ``started_at`` and counts an attempt; entering a finished state
        sets ``finished_at`` and puts the job in the history set; entering ``queued`` clears both
        times. Explicit ``changes`` win over these.

        Args:
            job_id: the job.
            state: the new state.
            error: the job's error after the change (cleared unless given).
            expect: if given, the change happens only from one of these states (checked
                atomically, e.g. cancel only a queued or running job).
            expect_run: if given, the change happens only while the job is on this run number
                (``runs``): a follower of an older run never overwrites a newer run's outcome.
            **changes: other Job fields to change in the same transaction.

        Returns:
            The job after the change.

        Raises:
            NotFoundError: there is no such job.
            FailedPreconditionError: the job is not in an ``expect`` state.
            StaleRunError: the job is on another run than ``expect_run``.
        """
        if "id" in changes:
            raise ValueError("set_state cannot change id")
        now = self._clock()

        def transition(job: Job) -> dict[str, Any]:
            fields: dict[str, Any] = {"state": state, "error": error}
            if state is not job.state:
                if state is JobState.RUNNING:
                    fields.update(started_at=now, finished_at=None, attempts=job.attempts + 1)
                elif state in FINISHED_STATES:
                    fields.update(finished_at=now)
                elif state is JobState.QUEUED:
                    fields.update(started_at=None, finished_at=None)
            return fields | changes

        return await self._change(
            job_id, "state", expect, transition, now=now, expect_run=expect_run
        )

    @translated
    async def delete_job(self, job_id: str) -> Job:
        """Remove a job and everything about it but the path cache; emit a ``deleted`` event.

        The next scan finds the file without a job and queues it again (without re-hashing it).

        Returns:
            The job as it was.

        Raises:
            NotFoundError: there is no such job.
            FailedPreconditionError: the job is running.
        """
        now = self._clock()

        async def body(pipe: Pipeline) -> Job:
            job = await self._read(pipe, job_id)
            if job.state is JobState.RUNNING:
                raise FailedPreconditionError(f"job {job_id} is running: cancel it first")
            fp_key = keys.fingerprint(job.fingerprint)
            await pipe.watch(fp_key)
            entry = text(await pipe.hget(fp_key, job.profile_hash))
            multi(pipe)
            pipe.delete(*keys.job_keys(job_id))
            for each in JobState:  # every state set: also repairs a stray membership
                pipe.zrem(keys.state(each), job_id)
            pipe.zrem(keys.JOBS, job_id)
            pipe.zrem(keys.HISTORY, job_id)
            if entry and index_entry_id(entry) == job_id:
                pipe.hdel(fp_key, job.profile_hash)
            self._emit(pipe, "deleted", job, now)
            return job

        return await self._transact([keys.job(job_id)], body)

    @translated
    async def set_slices(self, job_id: str, slices: Sequence[SliceProgress]) -> None:
        """Replace the slices of a job (its plan: one entry per slice).

        Raises:
            NotFoundError: there is no such job.
        """
        slices_key = keys.slices(job_id)

        async def body(pipe: Pipeline) -> None:
            await self._read(pipe, job_id)
            multi(pipe)
            pipe.delete(slices_key)
            if slices:
                pipe.hset(slices_key, mapping={str(s.index): encode_slice(s) for s in slices})

        await self._transact([keys.job(job_id)], body)

    @translated
    async def update_slice(self, job_id: str, progress: SliceProgress, *, emit: bool = True) -> str:
        """Store one slice's progress and (by default) emit a ``slice`` event with the job.

        One round trip (a script). Throttling progress updates is the caller's business.

        Returns:
            The event id, or "" when not emitted.

        Raises:
            NotFoundError: there is no such job.
        """
        event_id = await self._slice_script(
            keys=[keys.job(job_id), keys.slices(job_id), keys.EVENTS],
            args=[
                progress.index,
                encode_slice(progress),
                "1" if emit else "0",
                self._events_maxlen,
                job_id,
                repr(self._clock()),
            ],
        )
        if event_id is None:
            raise NotFoundError(f"job {job_id} not found")
        return str(text(event_id))

    async def _change(
        self,
        job_id: str,
        kind: str,
        expect: Collection[JobState] | None,
        compute: Callable[[Job], dict[str, Any]],
        *,
        now: float | None = None,
        expect_run: int | None = None,
    ) -> Job:
        """Apply ``compute(job)``'s field changes in one transaction; emit ``kind`` if set."""
        when = self._clock() if now is None else now

        async def body(pipe: Pipeline) -> Job:
            old = await self._read(pipe, job_id)
            if expect_run is not None and old.runs != expect_run:
                raise StaleRunError(
                    f"job {job_id} is on run {old.runs} ({old.state}), not run {expect_run}"
                )
            if expect is not None and old.state not in expect:
                wanted = " or ".join(state.value for state in expect)
                raise FailedPreconditionError(f"job {job_id} is {old.state}, not {wanted}")
            new = replace(old, **compute(old))
            multi(pipe)
            pipe.set(keys.job(job_id), encode_job(new))
            if new.state is not old.state:
                pipe.zrem(keys.state(old.state), job_id)
            pipe.zadd(keys.state(new.state), {job_id: _score(new, when)})
            if new.state in FINISHED_STATES:
                pipe.zadd(keys.HISTORY, {job_id: _score(new, when)})
            else:
                pipe.zrem(keys.HISTORY, job_id)
            if new.state is not old.state:
                # While a job exists its index entry is its own (create_job refuses otherwise).
                pipe.hset(keys.fingerprint(new.fingerprint), new.profile_hash, index_entry(new))
            if kind:
                extra = {"from": old.state.value} if kind == "state" else None
                self._emit(pipe, kind, new, when, extra=extra)
            return new

        return await self._transact([keys.job(job_id)], body)

    async def _transact(
        self, watch: Sequence[str], body: Callable[[Pipeline], Awaitable[_T]]
    ) -> _T:
        """Run ``body`` (reads, then ``multi()`` and queued writes) until EXEC wins the race."""
        async with self._client.pipeline(transaction=True) as pipe:
            for _ in range(_TX_ATTEMPTS):
                try:
                    await pipe.watch(*watch)
                    result = await body(pipe)
                    await pipe.execute()
                except redis.exceptions.WatchError:
                    continue
                return result
        raise UnavailableError(
            f"redis at {self.where}: {watch[0]} kept changing during {_TX_ATTEMPTS} attempts"
        )


def _score(job: Job, now: float) -> float:
    """Score of a job in its state set: queue order for queued, else the time it entered."""
    if job.state is JobState.QUEUED:
        return keys.queued_score(job.priority, job.created_at)
    if job.state is JobState.RUNNING:
        return job.started_at if job.started_at is not None else now
    return job.finished_at if job.finished_at is not None else now
