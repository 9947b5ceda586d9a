"""Reading jobs: by id, by content, in pages by state, in queue order, and their slices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio.client import Pipeline

from clustercode.errors import ClustercodeError, InvalidArgumentError, NotFoundError
from clustercode.models import Job, JobState, SliceProgress
from clustercode.store import keys
from clustercode.store._base import RedisStore, chunks, text, translated
from clustercode.store._codec import (
    decode_job,
    decode_page_token,
    decode_slice,
    encode_page_token,
    index_entry_id,
)

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
"""Page size when a caller asks for 0."""

MAX_PAGE_SIZE = 1000
"""Larger page sizes are reduced to this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRef:
    """A job as the fingerprint index knows it.

    Attributes:
        id: the job's id.
        state: the job's state.
    """

    id: str
    state: JobState


class JobQueries(RedisStore):
    """Read operations on jobs (a part of :class:`clustercode.store.history.History`)."""

    @translated
    async def get_job(self, job_id: str) -> Job:
        """Return a job.

        Raises:
            NotFoundError: there is no job ``job_id``.
        """
        raw = text(await self._client.get(keys.job(job_id)))
        if raw is None:
            raise NotFoundError(f"job {job_id} not found")
        return decode_job(raw, job_id)

    @translated
    async def get_jobs(self, job_ids: Sequence[str]) -> list[Job]:
        """Return the jobs that exist among ``job_ids``, in order; missing ones are left out."""
        jobs: list[Job] = []
        for chunk in chunks(job_ids):
            raws = await self._client.mget([keys.job(job_id) for job_id in chunk])
            for job_id, raw in zip(chunk, raws, strict=True):
                if raw:
                    jobs.append(decode_job(text(raw), job_id))
        return jobs

    async def find_job(self, fingerprint: str, profile_hash: str) -> Job | None:
        """Return the job of a file content under a profile, or None."""
        pair = (fingerprint, profile_hash)
        return (await self.find_jobs([pair])).get(pair)

    @translated
    async def find_refs(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], JobRef]:
        """Return the id and state of the jobs of many (fingerprint, profile hash) pairs.

        Pairs without a job are absent. Reads the fingerprint index only: one round trip per
        :data:`BATCH` pairs, about 0.5 s for 100,000 pairs; what a scan needs to decide.
        """
        found: dict[tuple[str, str], JobRef] = {}
        for chunk in chunks(list(dict.fromkeys(pairs))):
            reply = await self._find_script(
                keys=[keys.fingerprint(fingerprint) for fingerprint, _ in chunk],
                args=[profile_hash for _, profile_hash in chunk],
            )
            for pair, entry in zip(chunk, text(reply).split("\n"), strict=True):
                job_id, _, state = entry.partition(" ")
                if job_id:
                    found[pair] = JobRef(id=job_id, state=JobState(state))
        return found

    @translated
    async def find_jobs(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Job]:
        """Return the jobs of many (fingerprint, profile hash) pairs; pairs without one are absent.

        One round trip per :data:`BATCH` pairs (about 1.5 s for 100,000 pairs, mostly decoding
        the records; :meth:`find_refs` is three times faster when id and state are enough).
        """
        found: dict[tuple[str, str], Job] = {}
        for chunk in chunks(list(dict.fromkeys(pairs))):
            reply = await self._find_jobs_script(
                keys=[keys.fingerprint(fingerprint) for fingerprint, _ in chunk],
                args=[keys.job(""), *(profile_hash for _, profile_hash in chunk)],
            )
            for pair, raw in zip(chunk, text(reply).split("\n"), strict=True):
                if not raw:
                    continue
                try:
                    found[pair] = decode_job(raw, "of fingerprint " + pair[0])
                except ClustercodeError as exc:
                    logger.warning("%s", exc)
        return found

    @translated
    async def find_by_fingerprint(self, fingerprint: str) -> list[Job]:
        """Return the jobs of one file content under any profile (e.g. to delete by path)."""
        entries = await self._client.hvals(keys.fingerprint(fingerprint))
        return await self.get_jobs(sorted(index_entry_id(text(entry)) for entry in entries))

    @translated
    async def list_jobs(
        self,
        state: JobState | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str = "",
    ) -> tuple[list[Job], str]:
        """Return one page of jobs and the token of the next page ("" after the last page).

        Without a state: newest first by creation. ``queued``: in the order they will run.
        Other states: the most recent to enter the state first. The token is a cursor, not an
        offset: jobs added while a client pages do not shift the pages after the first.

        Args:
            state: only jobs in this state.
            page_size: jobs per page, at most :data:`MAX_PAGE_SIZE`; 0 means the default.
            page_token: "" for the first page, else the token a previous call returned.

        Raises:
            InvalidArgumentError: a negative page size, or a token not from this listing.
        """
        if state is None:
            return await self._list(keys.JOBS, "all", "desc", page_size, page_token)
        order = "asc" if state is JobState.QUEUED else "desc"
        return await self._list(keys.state(state), state.value, order, page_size, page_token)

    @translated
    async def list_history(
        self, page_size: int = DEFAULT_PAGE_SIZE, page_token: str = ""
    ) -> tuple[list[Job], str]:
        """Return one page of finished jobs, the most recently finished first (see list_jobs)."""
        return await self._list(keys.HISTORY, "history", "desc", page_size, page_token)

    @translated
    async def next_queued(self, limit: int) -> list[Job]:
        """Return up to ``limit`` queued jobs in the order they should run."""
        if limit <= 0:
            return []
        queue = keys.state(JobState.QUEUED)
        jobs, _ = await self._list(queue, JobState.QUEUED.value, "asc", limit, "")
        return jobs

    @translated
    async def count(self, state: JobState) -> int:
        """Return the number of jobs in ``state``."""
        return int(await self._client.zcard(keys.state(state)))

    @translated
    async def counts(self) -> dict[JobState, int]:
        """Return the number of jobs in every state (one round trip)."""
        async with self._client.pipeline(transaction=False) as pipe:
            for state in JobState:
                pipe.zcard(keys.state(state))
            sizes: list[int] = await pipe.execute()
        return dict(zip(JobState, sizes, strict=True))

    @translated
    async def get_slices(self, job_id: str) -> list[SliceProgress]:
        """Return the slices of a job ordered by index.

        Raises:
            NotFoundError: there is no such job.
        """
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.exists(keys.job(job_id))
            pipe.hgetall(keys.slices(job_id))
            exists, raw = await pipe.execute()
        if not exists:
            raise NotFoundError(f"job {job_id} not found")
        progress = [decode_slice(text(value)) for value in raw.values()]
        return sorted(progress, key=lambda s: s.index)

    async def _list(
        self, zset: str, scope: str, order: str, page_size: int, page_token: str
    ) -> tuple[list[Job], str]:
        if page_size < 0:
            raise InvalidArgumentError("page_size", f"must not be negative (got {page_size})")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        score, member = decode_page_token(page_token, scope) if page_token else ("", "")
        # One round trip: the script reads the ids after the cursor and their records.
        reply = text(
            await self._page_script(
                keys=[zset], args=[keys.job(""), order, size + 1, score, member]
            )
        )
        parts = reply.split("\n") if reply else []
        rows = [(parts[i], parts[i + 1], parts[i + 2]) for i in range(0, len(parts), 3)]
        jobs: list[Job] = []
        for job_id, _, raw in rows[:size]:
            if not raw:
                continue  # deleted after it was indexed: nothing to show
            try:
                jobs.append(decode_job(raw, job_id))
            except ClustercodeError as exc:
                logger.warning("%s", exc)
        token = ""
        if len(rows) > size:
            last_id, last_score, _ = rows[size - 1]
            token = encode_page_token(scope, last_score, last_id)
        return jobs, token

    async def _read(self, pipe: Pipeline, job_id: str) -> Job:
        """Read a job on a pipeline in its WATCH phase."""
        raw = text(await pipe.get(keys.job(job_id)))
        if raw is None:
            raise NotFoundError(f"job {job_id} not found")
        return decode_job(raw, job_id)
