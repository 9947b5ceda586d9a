"""The standard health service follows what the server depends on.

SERVING only while Redis answers, the executor is reachable and every background task of the
service (the scheduler, the periodic scan) is alive. A task that ends while the server runs
turns health to NOT_SERVING for good, and the log says why; Redis or the executor going away
turns it to NOT_SERVING until they are back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from grpc_health.v1 import health_pb2

from clustercode.errors import ClustercodeError
from clustercode.server.control import ControlPlane

__all__ = ["HealthMonitor"]

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthMonitor:
    """Sets the health of ``services`` from the control plane's status and background tasks.

    Args:
        health: the grpc health servicer (``grpc_health.v1._async.HealthServicer``).
        control: asked for its status (Redis and executor health); None checks only the
            background tasks.
        services: the service names whose health is set ("" is the server as a whole).
        interval: seconds between status checks.
    """

    def __init__(
        self,
        health: Any,
        control: ControlPlane | None,
        services: Iterable[str],
        *,
        interval: float = 5.0,
    ) -> None:
        self._health = health
        self._control = control
        self._services = tuple(services)
        self._interval = interval
        self._tasks: list[asyncio.Task[Any]] = []
        self._dead: str = ""
        self._problem: str | None = None
        self._changed = asyncio.Event()

    @property
    def problem(self) -> str:
        """Why the service is NOT_SERVING, or "" while it serves."""
        return self._dead or self._problem or ""

    def watch(self, task: asyncio.Task[Any]) -> None:
        """Turn NOT_SERVING for good once ``task`` ends (it should run as long as the server)."""
        self._tasks.append(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if self._dead:
            return
        error = None if task.cancelled() else task.exception()
        if error is None:
            # Returned or cancelled: the service is shutting down.
            self._dead = f"background task {task.get_name()} stopped"
            log.info("%s", self._dead)
        else:
            self._dead = f"background task {task.get_name()} failed: {error!r}"
            log.error(
                "%s; health is NOT_SERVING until the service restarts",
                self._dead,
                exc_info=error,
            )
        self._changed.set()

    async def run(self) -> None:
        """Check now and every ``interval`` seconds until cancelled."""
        serving: bool | None = None
        while True:
            problem = self._dead or await self._check()
            if problem and problem != self._problem:
                log.warning("health: NOT_SERVING: %s", problem)
            elif not problem and serving is False:
                log.info("health: SERVING again")
            self._problem = problem
            now = not problem
            if now != serving:
                for name in self._services:
                    await self._health.set(name, SERVING if now else NOT_SERVING)
                serving = now
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._interval)

    async def _check(self) -> str:
        if self._control is None:
            return ""
        try:
            status = await asyncio.wait_for(self._control.status(), self._interval)
        except (ClustercodeError, TimeoutError) as exc:
            return f"status check failed: {exc or 'timed out'}"
        if status.redis_error:
            return f"redis: {status.redis_error}"
        if status.executor_error:
            return f"executor: {status.executor_error}"
        return ""
