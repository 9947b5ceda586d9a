"""What ``clustercode serve`` runs beside the API so operators can see it: the activity log
(one line per job state change) and, when asked, the Prometheus metrics endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from clustercode.jobs.activity import EventHandler, follow_events, log_event
from clustercode.jobs.controller import Controller
from clustercode.models import JobEvent, JobState
from clustercode.server.metrics import MetricsServer, RpcMetricsInterceptor, ServiceMetrics

__all__ = ["observed"]


@contextlib.asynccontextmanager
async def observed(
    ctl: Controller, *, metrics_listen: str | None
) -> AsyncIterator[list[grpc.aio.ServerInterceptor[Any, Any]]]:
    """Log job state changes and serve metrics while the block runs.

    Args:
        ctl: the control plane.
        metrics_listen: ``HOST:PORT`` of the ``/metrics`` endpoint; None for no metrics.

    Yields:
        The server interceptors the gRPC API must add (RPC metrics), possibly none.

    Raises:
        ConfigError: the metrics address is bad or cannot be bound.
    """

    def wake_on_queued(event: JobEvent) -> None:
        # A job queued by another process (`clustercode history retry`) starts without
        # waiting for the next scan.
        if event.kind == "state" and event.job.state is JobState.QUEUED:
            ctl.scheduler.wake()

    handlers: list[EventHandler] = [log_event, wake_on_queued]
    interceptors: list[grpc.aio.ServerInterceptor[Any, Any]] = []
    server: MetricsServer | None = None
    if metrics_listen:
        metrics = ServiceMetrics()
        handlers.append(metrics.observe_event)
        ctl.scan_observers.append(metrics.observe_scan)
        interceptors.append(RpcMetricsInterceptor(metrics))
        server = MetricsServer(metrics, ctl, metrics_listen)
        await server.start()
    # Pinned now, so the events of the first scan (which starts next) are not missed.
    after = await ctl.history.last_event_id() or "0"
    follower = asyncio.create_task(follow_events(ctl.history, handlers, after=after))
    try:
        yield interceptors
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        if server is not None:
            await server.stop()
