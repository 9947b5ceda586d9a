"""One control service per store: a lease in Redis that ``run`` and ``serve`` hold.

Two control services on one store would each take the other's running jobs for lost, queue them
again and run them twice in the same work directory. So a control service that runs jobs first
takes the lease (``SET NX PX``), renews it while it runs (a script that extends it only if it
still holds it) and deletes it when it stops (the same compare). A second one refuses to start
with one line naming the holder, or waits for it with ``--wait``. A lease left by a process that
died on this host without releasing it is taken over at once; one held elsewhere expires after
its time to live.

A holder that finds the lease in another's hands has lost it: it stops starting and following
jobs. What it might still write is refused anyway, because every change a run's follower makes
is conditional on the job's run number.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from clustercode.backoff import Backoff
from clustercode.errors import LeaseError, UnavailableError
from clustercode.store import keys
from clustercode.store.connection import REDIS_ERRORS, RedisHandle, unavailable

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TTL", "Holder", "Lease"]

DEFAULT_TTL = 15.0
"""Seconds a lease lives without renewal; renewed every third of it."""

_WAIT_BACKOFF = Backoff(initial=0.5, factor=2.0, maximum=5.0)

# KEYS[1] lease; ARGV[1] our value; ARGV[2] ttl ms. 1: renewed; 2: had expired, taken again;
# 0: another holds it.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0
"""
# KEYS[1] lease; ARGV[1] expected value; ARGV[2] new value ('' deletes); ARGV[3] ttl ms.
_SWAP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    """Who holds a lease.

    Attributes:
        id: random id of the holding process's lease.
        host: its host name.
        pid: its process id.
        since: unix time it took the lease.
    """

    id: str
    host: str
    pid: int
    since: float

    def describe(self) -> str:
        """For messages: ``pid 123 on host h since 12:00:01``."""
        at = time.strftime("%H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} on {self.host} since {at}"

    def encode(self) -> str:
        """The stored value."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def decode(cls, raw: str) -> Holder | None:
        """Parse a stored value; ``None`` for anything else."""
        try:
            data = json.loads(raw)
            return cls(
                id=str(data["id"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                since=float(data["since"]),
            )
        except (ValueError, TypeError, KeyError):
            return None

    @classmethod
    def this_process(cls) -> Holder:
        """A new holder for this process."""
        return cls(
            id=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid(), since=time.time()
        )


def _process_gone(pid: int) -> bool:
    """Whether ``pid`` is no running process of this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class Lease:
    """The controller lease of one store.

    Args:
        redis: the store's connection.
        ttl: seconds the lease lives without renewal.
    """

    def __init__(self, redis: RedisHandle, *, ttl: float = DEFAULT_TTL) -> None:
        self._client = redis.client
        self._where = redis.where
        self._ttl_ms = int(ttl * 1000)
        self.holder = Holder.this_process()
        self.lost = asyncio.Event()
        """Set when another holder took the lease from this one."""
        self._renew = self._client.register_script(_RENEW)
        self._swap = self._client.register_script(_SWAP)

    @property
    def ttl(self) -> float:
        """Seconds the lease lives without renewal."""
        return self._ttl_ms / 1000

    async def current(self) -> Holder | None:
        """Who holds the lease now.

        Raises:
            UnavailableError: Redis cannot be reached.
        """
        try:
            raw = await self._client.get(keys.LEASE)
        except REDIS_ERRORS as exc:
            raise unavailable(self._where, exc) from exc
        if raw is None:
            return None
        return Holder.decode(raw if isinstance(raw, str) else raw.decode())

    async def _try(self) -> Holder | None:
        """Take the lease if it is free or its holder died here; return the other holder."""
        mine = self.holder.encode()
        try:
            if await self._client.set(keys.LEASE, mine, nx=True, px=self._ttl_ms):
                return None
            raw = await self._client.get(keys.LEASE)
            if raw is None:
                return await self._try()
            text = raw if isinstance(raw, str) else raw.decode()
            other = Holder.decode(text)
            local = other is not None and other.host == self.holder.host
            if other is None or (local and _process_gone(other.pid)):
                if await self._swap(keys=[keys.LEASE], args=[text, mine, self._ttl_ms]):
                    if other is not None:
                        log.info("took over the lease of %s (no longer running)", other.describe())
                    return None
                return await self._try()
        except REDIS_ERRORS as exc:
            raise unavailable(self._where, exc) from exc
        return other

    async def acquire(
        self, *, wait: bool = False, on_wait: Callable[[Holder], None] | None = None
    ) -> None:
        """Take the lease.

        Args:
            wait: wait until the holder lets go (or its lease expires) instead of refusing.
            on_wait: called once with the holder when waiting starts.

        Raises:
            LeaseError: another control service holds it (without ``wait``).
            UnavailableError: Redis cannot be reached.
        """
        failures = 0
        while True:
            other = await self._try()
            if other is None:
                self.lost.clear()
                return
            if not wait:
                raise LeaseError(
                    f"another clustercode control service runs jobs on redis at {self._where}: "
                    f"{other.describe()}; stop it first, or start this one with --wait"
                )
            if failures == 0 and on_wait is not None:
                on_wait(other)
            failures += 1
            await asyncio.sleep(_WAIT_BACKOFF.delay(failures))

    async def renew(self) -> bool:
        """Extend the lease; ``False`` (and :attr:`lost` set) when another holder has it.

        Raises:
            UnavailableError: Redis cannot be reached (the lease may or may not be held).
        """
        try:
            outcome = await self._renew(
                keys=[keys.LEASE], args=[self.holder.encode(), self._ttl_ms]
            )
        except REDIS_ERRORS as exc:
            raise unavailable(self._where, exc) from exc
        if int(outcome) == 0:
            self.lost.set()
            return False
        if int(outcome) == 2:
            log.warning("the lease had expired while redis was away; it is held again")
        return True

    async def keep(self) -> None:
        """Renew the lease every third of its time to live until cancelled or lost."""
        while not self.lost.is_set():
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self.renew():
                    holder = await self.current()
                    who = holder.describe() if holder else "another control service"
                    log.error("lost the lease of this store to %s: no job is started", who)
                    return
            except UnavailableError as exc:
                log.warning("cannot renew the lease: %s", exc)

    async def release(self) -> None:
        """Let go of the lease if this process still holds it (Redis errors are ignored)."""
        try:
            await self._swap(keys=[keys.LEASE], args=[self.holder.encode(), "", self._ttl_ms])
        except REDIS_ERRORS as exc:
            log.info("could not release the lease: %s", exc)
