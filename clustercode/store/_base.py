"""The base of the Redis-backed stores: the client, error translation and batching helpers."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Concatenate, ParamSpec, TypeVar, overload

from redis.asyncio.client import Pipeline

from clustercode.store import keys
from clustercode.store._lua import (
    FILES_SCRIPT,
    FIND_JOBS_SCRIPT,
    FIND_SCRIPT,
    LOOKUP_SCRIPT,
    PAGE_SCRIPT,
    SLICE_SCRIPT,
)
from clustercode.store.connection import REDIS_ERRORS, RedisHandle, unavailable

BATCH = 5000
"""Commands per pipeline round trip in batch operations (bounded memory, ~1 ms of Redis time)."""

_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S", bound="RedisStore")


class RedisStore:
    """State shared by the stores that make up :class:`clustercode.store.history.History`.

    Attributes:
        where: the server, for messages.
    """

    def __init__(
        self,
        redis: RedisHandle,
        *,
        events_maxlen: int = keys.EVENTS_MAXLEN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use the Redis behind ``redis``.

        Args:
            redis: an open connection (see :func:`clustercode.store.connection.connect`).
            events_maxlen: approximate cap of the event stream.
            clock: unix time source for timestamps.
        """
        self._client = redis.client
        self.where = redis.where
        self._events_maxlen = events_maxlen
        self._clock = clock
        self._page_script = self._client.register_script(PAGE_SCRIPT)
        self._slice_script = self._client.register_script(SLICE_SCRIPT)
        self._find_script = self._client.register_script(FIND_SCRIPT)
        self._find_jobs_script = self._client.register_script(FIND_JOBS_SCRIPT)
        self._files_script = self._client.register_script(FILES_SCRIPT)
        self._lookup_script = self._client.register_script(LOOKUP_SCRIPT)


def translated(
    method: Callable[Concatenate[_S, _P], Awaitable[_T]],
) -> Callable[Concatenate[_S, _P], Awaitable[_T]]:
    """Decorate a store method: Redis connection failures become UnavailableError."""

    @functools.wraps(method)
    async def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except REDIS_ERRORS as exc:
            raise unavailable(self.where, exc) from exc

    return wrapper


@overload
def text(value: bytes | str) -> str: ...
@overload
def text(value: bytes | str | None) -> str | None: ...
def text(value: bytes | str | None) -> str | None:
    """Return a reply as ``str`` (replies are decoded; redis-py's types still admit bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def multi(pipe: Pipeline) -> None:
    """End the WATCH phase of ``pipe``: later commands are queued for EXEC."""
    pipe.multi()  # type: ignore[no-untyped-call]


def chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    """Yield ``items`` in slices of :data:`BATCH`."""
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
