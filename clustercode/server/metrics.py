"""Prometheus metrics of the control service, served as text at ``/metrics``.

Three sources feed them:

- the event stream (:meth:`ServiceMetrics.observe_event`): state changes, attempts, slices and
  frames encoded, encode speed, bytes in and out;
- scans (:meth:`ServiceMetrics.observe_scan`): duration, media files seen, files still changing;
- each scrape (:meth:`ServiceMetrics.refresh`): jobs by state, queue depth, parked files,
  executor and Redis health, read from the control plane's status at that moment.

RPC counts and latencies come from :class:`RpcMetricsInterceptor`. Counters count what this
process saw since it started, as Prometheus counters do; ``rate()`` and ``increase()`` handle
restarts. The registry is the service's own (not the library's global one), so two services in
one process (tests) do not share numbers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from clustercode.errors import ConfigError
from clustercode.jobs.views import ScanReport
from clustercode.models import JobEvent, JobState
from clustercode.server._interceptor import ServerInterceptor as _Interceptor
from clustercode.server.app import ListenAddress
from clustercode.server.control import ControlPlane

__all__ = ["MetricsServer", "RpcMetricsInterceptor", "ServiceMetrics"]

log = logging.getLogger(__name__)

_RPC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SCAN_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class ServiceMetrics:
    """The metrics of one control service, in a registry of their own."""

    def __init__(self) -> None:
        """Create every metric at zero (so dashboards show 0, not "no data")."""
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Gauge(
            "clustercode_jobs", "Jobs in the history by state.", ["state"], registry=r
        )
        self.queue_depth = Gauge("clustercode_queue_depth", "Jobs waiting to run.", registry=r)
        self.parked = Gauge(
            "clustercode_parked_files", "Files parked after their last attempt.", registry=r
        )
        self.executor_up = Gauge(
            "clustercode_executor_up", "1 if the executor answers, else 0.", ["executor"],
            registry=r,
        )  # fmt: skip
        self.redis_up = Gauge("clustercode_redis_up", "1 if Redis answers, else 0.", registry=r)
        self.transitions = Counter(
            "clustercode_job_transitions", "Job state changes, by the state entered.", ["state"],
            registry=r,
        )  # fmt: skip
        self.attempts = Counter(
            "clustercode_job_attempts", "Job attempts started (workflows run).", registry=r
        )
        self.slices = Counter(
            "clustercode_slices_encoded", "Slices encoded and decoded back.", registry=r
        )
        self.frames = Counter("clustercode_frames_encoded", "Video frames encoded.", registry=r)
        self.fps = Gauge(
            "clustercode_encode_fps", "Frames per second over all running slices.", registry=r
        )
        self.bytes_in = Counter(
            "clustercode_bytes_in", "Source bytes of succeeded jobs.", registry=r
        )
        self.bytes_out = Counter(
            "clustercode_bytes_out", "Output bytes of succeeded jobs.", registry=r
        )
        self.bytes_saved = Gauge(
            "clustercode_bytes_saved",
            "Source minus output bytes of the jobs that succeeded since the service started.",
            registry=r,
        )
        self.scan_seconds = Histogram(
            "clustercode_scan_duration_seconds", "Wall time of a library walk.",
            buckets=_SCAN_BUCKETS, registry=r,
        )  # fmt: skip
        self.scan_files = Gauge(
            "clustercode_scan_files", "Media files the last scan saw.", registry=r
        )
        self.scan_settling = Gauge(
            "clustercode_scan_settling_files",
            "Files the last scan left out because they were still changing.",
            registry=r,
        )
        self.rpcs = Counter(
            "clustercode_rpc_requests", "RPCs handled, by method and status code.",
            ["method", "code"], registry=r,
        )  # fmt: skip
        self.rpc_seconds = Histogram(
            "clustercode_rpc_duration_seconds", "RPC handling time (streams: until they end).",
            ["method"], buckets=_RPC_BUCKETS, registry=r,
        )  # fmt: skip
        for state in JobState:
            self.jobs.labels(state.value)
            self.transitions.labels(state.value)
        # (job id, slice index) -> frames counted so far / current fps of a running slice
        self._frames_seen: dict[tuple[str, int], int] = {}
        self._slices_done: set[tuple[str, int]] = set()
        self._fps: dict[tuple[str, int], float] = {}

    def observe_event(self, event: JobEvent) -> None:
        """Count what one event of the stream says happened."""
        job = event.job
        if event.kind == "slice" and event.slice is not None:
            key = (job.id, event.slice.index)
            done = event.slice.frames_done
            seen = self._frames_seen.get(key, 0)
            # A retried slice starts again at 0: its frames are encoded (and counted) again.
            self.frames.inc(done - seen if done >= seen else done)
            self._frames_seen[key] = done
            if event.slice.state == "succeeded" and key not in self._slices_done:
                self._slices_done.add(key)
                self.slices.inc()
            if event.slice.state == "running":
                self._fps[key] = event.slice.fps
            else:
                self._fps.pop(key, None)
            self.fps.set(sum(self._fps.values()))
            return
        if event.kind != "state" or "from" not in event.extra:
            return
        self.transitions.labels(job.state.value).inc()
        if job.state is JobState.RUNNING:
            self.attempts.inc()
            return
        self._forget(job.id)
        if job.state is JobState.SUCCEEDED:
            self.bytes_in.inc(job.size_before)
            self.bytes_out.inc(job.size_after)
            self.bytes_saved.inc(job.size_before - job.size_after)

    def observe_scan(self, report: ScanReport) -> None:
        """Record one scan's duration and counts."""
        self.scan_seconds.observe(report.stats.seconds)
        self.scan_files.set(report.stats.files)
        self.scan_settling.set(report.stats.skipped.get("settling", 0))

    async def refresh(self, control: ControlPlane) -> None:
        """Read jobs by state and health from the control plane (at each scrape)."""
        status = await control.status()
        self.redis_up.set(0 if status.redis_error else 1)
        self.executor_up.labels(status.executor).set(0 if status.executor_error else 1)
        if status.redis_error:
            return  # the counts are unknown: keep the last ones rather than report zeros
        for state in JobState:
            self.jobs.labels(state.value).set(status.counts.get(state, 0))
        self.queue_depth.set(status.queue_depth)
        self.parked.set(status.counts.get(JobState.PARKED, 0))

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def _forget(self, job_id: str) -> None:
        for table in (self._frames_seen, self._fps):
            for key in [k for k in table if k[0] == job_id]:
                del table[key]
        self._slices_done = {k for k in self._slices_done if k[0] != job_id}
        self.fps.set(sum(self._fps.values()))


class RpcMetricsInterceptor(_Interceptor):
    """Count every RPC by method and status code, and time it."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        """Record into ``metrics``."""
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """Wrap the method's behaviour in a timer that records its outcome."""
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler  # unknown method (UNIMPLEMENTED) or client streaming: none here
        method = handler_call_details.method
        metrics = self._metrics

        def record(
            started: float, context: grpc.aio.ServicerContext[Any, Any], outcome: str
        ) -> None:
            code = context.code()
            name = code.name if isinstance(code, grpc.StatusCode) else outcome
            metrics.rpcs.labels(method, name).inc()
            metrics.rpc_seconds.labels(method).observe(time.perf_counter() - started)

        if handler.response_streaming:
            # Typed as sync behaviours in the stubs; under grpc.aio they are async.
            stream: Any = handler.unary_stream

            async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                started, outcome = time.perf_counter(), "UNKNOWN"
                try:
                    replies = stream(request, context)
                    if inspect.isawaitable(replies):  # a refusal, or a context.write() style
                        await replies
                    else:
                        async for reply in replies:
                            yield reply
                    outcome = "OK"
                except asyncio.CancelledError:
                    outcome = "CANCELLED"  # the client went away
                    raise
                finally:
                    record(started, context, outcome)

            return grpc.unary_stream_rpc_method_handler(
                streaming,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        unary: Any = handler.unary_unary

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started, outcome = time.perf_counter(), "UNKNOWN"
            try:
                reply = await unary(request, context)
                outcome = "OK"
                return reply
            except asyncio.CancelledError:
                outcome = "CANCELLED"
                raise
            finally:
                record(started, context, outcome)

        return grpc.unary_unary_rpc_method_handler(
            call,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class MetricsServer:
    """An HTTP server with ``/metrics`` (Prometheus text) for one control service."""

    def __init__(self, metrics: ServiceMetrics, control: ControlPlane, listen: str) -> None:
        """Nothing is bound until :meth:`start`.

        Raises:
            ConfigError: ``listen`` is not ``HOST:PORT``.
        """
        self._metrics = metrics
        self._control = control
        self._listen = ListenAddress.parse(listen)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        """Bind and serve; ``url`` is then the address of ``/metrics`` (with the bound port)."""
        app = web.Application()
        app.router.add_get("/metrics", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        host = self._listen.host or "0.0.0.0"  # noqa: S104 (":PORT" asks for every interface)
        site = web.TCPSite(runner, host, self._listen.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"cannot serve metrics on {self._listen.grpc_target()}: {exc.strerror}"
            ) from None
        self._runner = runner
        port = runner.addresses[0][1]
        self.url = f"http://{self._listen.grpc_target(port)}/metrics"
        log.info("metrics on %s", self.url)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            await self._metrics.refresh(self._control)
        except Exception:
            # Health gauges say what is down; the scrape itself still answers.
            log.exception("refreshing metrics failed")
        return web.Response(
            body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
