"""The connection to Redis: a server at a URL, or the embedded one of the state directory.

``connect(url, state_dir)`` returns a :class:`RedisHandle` holding a ``redis.asyncio`` client that
decodes replies to ``str``. Every failure to reach Redis becomes
:class:`clustercode.errors.UnavailableError` with a message naming the server and the reason,
e.g. ``redis at redis://127.0.0.1:6390: connection refused``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio
import redis.exceptions

from clustercode.errors import ConfigError, UnavailableError, exception_chain
from clustercode.store.embedded import EmbeddedRedis

logger = logging.getLogger(__name__)

REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    OSError,
    TimeoutError,
)
"""Errors that mean "Redis cannot serve us now"; :func:`unavailable` turns them into messages."""

_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENOENT: "no such socket file",
    errno.ETIMEDOUT: "connection timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EACCES: "permission denied",
    errno.ECONNRESET: "connection reset",
    errno.EPIPE: "connection closed",
}
_REDIS_PY_PREFIX = re.compile(r"^Error \S+ (?:connecting to|while writing to) \S+?\.? ")


class RedisHandle:
    """An open Redis connection pool, and the embedded server behind it if there is one.

    Use as ``async with await connect(...) as handle`` or call :meth:`close`.

    Attributes:
        client: the ``redis.asyncio`` client (``decode_responses=True``).
        where: the server for messages: its URL without password.
        embedded: the embedded server, or None for a server at a URL.
    """

    def __init__(
        self, client: redis.asyncio.Redis, *, where: str, embedded: EmbeddedRedis | None = None
    ) -> None:
        """Wrap an open client; see :func:`connect`."""
        self.client = client
        self.where = where
        self.embedded = embedded
        self._closed = False

    async def close(self) -> None:
        """Close the connections; stop the embedded server if no other process uses it."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.client.aclose()
        finally:
            if self.embedded is not None:
                await asyncio.to_thread(self.embedded.stop)

    async def __aenter__(self) -> RedisHandle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def connect(url: str | None, state_dir: Path, *, connect_timeout: float = 5.0) -> RedisHandle:
    """Connect to Redis at ``url``, or to the embedded server of ``state_dir`` when url is None.

    The embedded server is started if no process runs it yet; its data lives in
    ``state_dir/redis`` and survives restarts.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://`` URL; None for the embedded server.
        state_dir: clustercode's state directory (used for the embedded server only).
        connect_timeout: seconds to wait for a TCP connection.

    Returns:
        An open handle; the server answered PING.

    Raises:
        ConfigError: the URL is malformed.
        UnavailableError: the server cannot be reached or started.
    """
    embedded: EmbeddedRedis | None = None
    if url is None:
        embedded = EmbeddedRedis(state_dir)
        await asyncio.to_thread(embedded.start)
        where = embedded.url
        client = redis.asyncio.Redis(
            unix_socket_path=str(embedded.socket_path),
            decode_responses=True,
            socket_connect_timeout=connect_timeout,
        )
    else:
        where = display_url(url)
        try:
            client = redis.asyncio.Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=connect_timeout
            )
        except ValueError as exc:
            raise ConfigError(f"redis url {where!r}: {exc}") from None
    handle = RedisHandle(client, where=where, embedded=embedded)
    try:
        await client.ping()
    except REDIS_ERRORS as exc:
        await handle.close()
        raise unavailable(where, exc) from None
    except BaseException:
        await handle.close()
        raise
    logger.info("connected to redis at %s", where)
    return handle


def display_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for messages and logs.

    Args:
        url: a Redis URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def unavailable(where: str, exc: BaseException) -> UnavailableError:
    """Return the :class:`UnavailableError` a user sees for a Redis failure.

    Args:
        where: the server (a display URL).
        exc: the error raised by redis-py or the socket layer.
    """
    return UnavailableError(f"redis at {where}: {describe_error(exc)}")


def describe_error(exc: BaseException) -> str:
    """Return a short lower-case reason for a Redis failure (``connection refused``).

    Args:
        exc: the error raised by redis-py or the socket layer.
    """
    if isinstance(exc, redis.exceptions.AuthenticationError):
        return f"authentication failed ({exc})"
    if isinstance(exc, redis.exceptions.BusyLoadingError):
        return "still loading its data; retry in a moment"
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return f"refuses writes (a read-only replica): {exc}"
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return f"out of memory: {exc}"
    for cause in exception_chain(exc):
        if isinstance(cause, socket.gaierror):
            return f"unknown host ({cause.strerror})"
        if isinstance(cause, OSError) and cause.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[cause.errno]
        if isinstance(cause, TimeoutError | redis.exceptions.TimeoutError):
            return "timed out"
    text = _REDIS_PY_PREFIX.sub("", str(exc)).strip().rstrip(".") or type(exc).__name__
    return text[0].lower() + text[1:]
