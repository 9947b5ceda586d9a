"""One Redis reader for every watcher of the event stream.

A blocking ``XREAD`` holds a connection for as long as it waits. One per WatchJobs stream would
let a hundred idle watchers take every connection of the pool, and every other call with them.
:class:`EventHub` runs a single reader task that fans events out to one bounded queue per
subscriber; a subscriber only touches Redis for short, non-blocking reads: once to catch up from
its resume id, and again if it fell behind (its queue filled up) or the reader lost Redis.
The number of subscribers is capped; past the cap :class:`ResourceExhaustedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from clustercode.errors import ClustercodeError, ResourceExhaustedError
from clustercode.models import JobEvent
from clustercode.store._codec import check_event_id
from clustercode.store.events import EventLog

__all__ = ["EventHub"]

log = logging.getLogger(__name__)

_BATCH = 500
_CONCURRENT_READS = 4


def _order(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(slots=True, eq=False)
class _Subscriber:
    queue: asyncio.Queue[JobEvent | None]
    # Set when the queue overflowed or the reader lost events: catch up from Redis.
    lagged: bool = True
    errors: list[ClustercodeError] = field(default_factory=list)


class EventHub:
    """Fans the event stream out to subscribers from one reader.

    Args:
        events: the event log (the reader's and the catch-up reads' Redis).
        max_subscribers: subscribers at once; more raise ResourceExhaustedError.
        block_ms: how long one blocking read waits before it is repeated.
        queue_size: events buffered per subscriber before it must catch up from Redis.
    """

    def __init__(
        self,
        events: EventLog,
        *,
        max_subscribers: int = 1000,
        block_ms: int = 5000,
        queue_size: int = 1000,
    ) -> None:
        self._events = events
        self.max_subscribers = max_subscribers
        self._block_ms = block_ms
        self._queue_size = queue_size
        self._subscribers: set[_Subscriber] = set()
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        # Catch-up reads are short, but a thousand watchers (re)connecting at once must not take
        # a thousand connections from the pool every other call shares.
        self._reads = asyncio.Semaphore(_CONCURRENT_READS)

    @property
    def subscribers(self) -> int:
        """Subscribers now."""
        return len(self._subscribers)

    async def subscribe(self, after: str = "$") -> AsyncIterator[JobEvent]:
        """Yield events after the event id ``after`` (``$``: from now on) until closed.

        Raises:
            ResourceExhaustedError: ``max_subscribers`` are subscribed already.
            InvalidArgumentError: ``after`` is not an event id.
            UnavailableError: Redis cannot be reached.
        """
        position = check_event_id(after, "after_event_id")
        if len(self._subscribers) >= self.max_subscribers:
            raise ResourceExhaustedError(
                f"{self.max_subscribers} watch streams are open, the most this server allows "
                "(max_watch_streams); close one or try again later"
            )
        subscriber = _Subscriber(queue=asyncio.Queue(self._queue_size))
        self._subscribers.add(subscriber)
        try:
            self._start_reader()
            # The reader has pinned its start before this subscriber catches up: nothing
            # between the two is lost.
            await self._ready.wait()
            if position == "$":
                async with self._reads:
                    position = await self._events.last_event_id() or "0-0"
            while True:
                if subscriber.errors:
                    raise subscriber.errors[0]
                if subscriber.lagged and subscriber.queue.empty():
                    subscriber.lagged = False
                    async for event in self._catch_up(position):
                        position = event.id
                        yield event
                    continue
                item = await subscriber.queue.get()
                if item is None or _order(item.id) <= _order(position):
                    continue  # a wake-up, or already seen while catching up
                position = item.id
                yield item
        finally:
            self._subscribers.discard(subscriber)

    async def _catch_up(self, position: str) -> AsyncIterator[JobEvent]:
        while True:
            async with self._reads:
                batch = await self._events.events(position, count=_BATCH)
            for event in batch:
                position = event.id
                yield event
            if len(batch) < _BATCH:
                return

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._ready = asyncio.Event()
            self._reader = asyncio.create_task(self._read(), name="clustercode-event-hub")

    async def _read(self) -> None:
        position = ""
        while self._subscribers:
            try:
                if not position:
                    position = await self._events.last_event_id() or "0-0"
                    self._ready.set()
                    continue
                batch = await self._events.events(position, block_ms=self._block_ms, count=_BATCH)
            except ClustercodeError as exc:
                self._fail(exc, ready=not position)
                await asyncio.sleep(1.0)
                continue
            for event in batch:
                position = event.id
                for subscriber in self._subscribers:
                    if subscriber.lagged:
                        continue
                    try:
                        subscriber.queue.put_nowait(event)
                    except asyncio.QueueFull:
                        subscriber.lagged = True
        self._ready.clear()

    def _fail(self, error: ClustercodeError, *, ready: bool) -> None:
        log.warning("event reader: %s", error)
        for subscriber in self._subscribers:
            if ready:
                subscriber.errors.append(error)
            subscriber.lagged = True  # its own catch-up read reports Redis when it is down
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)
        if ready:
            self._ready.set()

    async def close(self) -> None:
        """Stop the reader (subscribers see their streams end when they next wait)."""
        self._subscribers.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
