"""Which job publishes to which output path, so that two sources never share one output.

``clustercode:outputs`` maps an output path to ``"{job_id} {source}"``. The decider claims the
path when it queues a job and asks who holds it before queueing another; the rules for what
counts as a collision live in :mod:`clustercode.jobs.collisions`.
"""

from __future__ import annotations

from clustercode.store import keys
from clustercode.store._base import RedisStore, text, translated

__all__ = ["OutputIndex"]


class OutputIndex(RedisStore):
    """Output path claims (a part of :class:`clustercode.store.history.History`)."""

    @translated
    async def output_owner(self, output: str) -> tuple[str, str] | None:
        """The ``(job id, source)`` that claimed ``output``, or ``None``."""
        raw = text(await self._client.hget(keys.OUTPUTS, output))
        if not raw:
            return None
        job_id, _, source = raw.partition(" ")
        return job_id, source

    @translated
    async def claim_output(self, output: str, job_id: str, source: str) -> None:
        """Record that ``job_id`` (of ``source``) publishes to ``output``."""
        await self._client.hset(keys.OUTPUTS, output, f"{job_id} {source}")
