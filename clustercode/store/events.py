"""The event stream that feeds watchers: job state changes, slice progress and deletions.

Events are entries of the Redis stream ``clustercode:events``, capped near
:data:`clustercode.store.keys.EVENTS_MAXLEN` entries. An event's id is its stream id: a watcher that
remembers the last id it saw resumes after it and misses nothing that is still retained.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio.client import Pipeline

from clustercode.models import Job, JobEvent
from clustercode.store import keys
from clustercode.store._base import RedisStore, text, translated
from clustercode.store._codec import check_event_id, decode_event, event_fields


class EventLog(RedisStore):
    """Event stream operations (a part of :class:`clustercode.store.history.History`)."""

    @translated
    async def events(
        self, after: str = "0", *, block_ms: int | None = None, count: int = 100
    ) -> list[JobEvent]:
        """Return up to ``count`` events after the event id ``after``, oldest first.

        Args:
            after: an event id (resume after it), ``0`` for the oldest retained event, or ``$``
                for events newer than the call (only useful with ``block_ms``).
            block_ms: wait up to this long for an event when there is none; None: don't wait.
            count: at most this many events.

        Raises:
            InvalidArgumentError: ``after`` is not an event id.
        """
        position = check_event_id(after, "after")
        # RESP2 reply (the protocol connect() uses): [[stream, [(id, {field: value}), ...]]]
        reply: Any = await self._client.xread({keys.EVENTS: position}, count=count, block=block_ms)
        return [
            decode_event(text(event_id), {text(k): text(v) for k, v in fields.items()})
            for _, entries in reply or []
            for event_id, fields in entries
        ]

    @translated
    async def first_event_id(self) -> str:
        """Return the id of the oldest retained event, "" if there is none.

        A watcher whose resume id is older than this has missed events.
        """
        entries = await self._client.xrange(keys.EVENTS, count=1)
        return str(text(entries[0][0])) if entries else ""

    @translated
    async def last_event_id(self) -> str:
        """Return the id of the newest event, "" if there is none."""
        entries = await self._client.xrevrange(keys.EVENTS, count=1)
        return str(text(entries[0][0])) if entries else ""

    async def follow(
        self, after: str = "$", *, block_ms: int = 5000, count: int = 100
    ) -> AsyncIterator[JobEvent]:
        """Yield events after ``after`` as they come, until the consumer stops.

        Args:
            after: an event id, ``0`` for the oldest retained, ``$`` for new events only.
            block_ms: how long one read waits in Redis before it is repeated.
            count: events per read.

        Raises:
            InvalidArgumentError: ``after`` is not an event id.
            UnavailableError: Redis cannot be reached.
        """
        position = check_event_id(after, "after")
        if position == "$":
            # Pin "$" to an id now: a later read with "$" would skip events that arrive while
            # the consumer handles a batch.
            position = await self.last_event_id() or "0-0"
        while True:
            batch = await self.events(position, block_ms=block_ms, count=count)
            for event in batch:
                position = event.id
                yield event

    def _emit(
        self,
        pipe: Pipeline,
        kind: str,
        job: Job,
        now: float,
        *,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Queue the XADD of an event on ``pipe`` (inside the transaction of the change)."""
        fields: Any = event_fields(kind, job, now, extra=extra)
        pipe.xadd(keys.EVENTS, fields, maxlen=self._events_maxlen, approximate=True)
