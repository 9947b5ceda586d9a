"""The TUI's only way to the control service: clustercode.v1 over one grpc.aio channel.

Every method is one RPC with the bearer token and a deadline; results stay protobuf messages,
which the widgets read directly. :func:`describe_error` turns any failure into the one line a
notification shows.
"""

from __future__ import annotations

from typing import Any

import grpc

from clustercode.api.v1 import jobs_pb2, service_pb2, service_pb2_grpc
from tui.settings import Settings

__all__ = [
    "ApiClient",
    "WatchCall",
    "describe_error",
    "is_timeout",
    "is_unauthenticated",
    "is_unreachable",
]

WatchCall = grpc.aio.UnaryStreamCall[service_pb2.WatchJobsRequest, service_pb2.WatchJobsResponse]

_CHANNEL_OPTIONS = (
    # grpc's own reconnect backoff grows to 120 s by default: a server that comes back would
    # stay "unreachable" for minutes. The TUI paces its own retries.
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


class ApiClient:
    """Calls ClustercodeService on one server.

    The channel opens on the first call, inside the running event loop (grpc.aio binds a
    channel to the loop it was made in); :meth:`close` closes it.
    """

    def __init__(self, settings: Settings) -> None:
        """Remember where the server is; nothing connects yet."""
        self.settings = settings
        self._channel: grpc.aio.Channel | None = None
        self._stub: service_pb2_grpc.ClustercodeServiceAsyncStub | None = None
        token = settings.token
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )

    @property
    def address(self) -> str:
        """``HOST:PORT`` of the server."""
        return self.settings.address

    @property
    def closed(self) -> bool:
        """Whether no channel is open (none opened yet, or closed)."""
        return self._channel is None

    @property
    def _api(self) -> service_pb2_grpc.ClustercodeServiceAsyncStub:
        if self._stub is None:
            tls = self.settings.tls
            if tls is not None:
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
                )
                self._channel = grpc.aio.secure_channel(
                    self.settings.address, credentials, options=_CHANNEL_OPTIONS
                )
            else:
                self._channel = grpc.aio.insecure_channel(
                    self.settings.address, options=_CHANNEL_OPTIONS
                )
            self._stub = service_pb2_grpc.ClustercodeServiceStub(self._channel)
        return self._stub

    def _call_options(self) -> dict[str, Any]:
        return {"metadata": self._metadata, "timeout": self.settings.timeout}

    async def close(self) -> None:
        """Close the channel; calls still running fail with CANCELLED."""
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close(None)

    async def status(self) -> service_pb2.GetStatusResponse:
        """GetStatus: version, health of executor and Redis, queue depth, active jobs."""
        request = service_pb2.GetStatusRequest()
        return await self._api.GetStatus(request, **self._call_options())

    async def list_jobs(self, state: int, page_token: str = "") -> service_pb2.ListJobsResponse:
        """ListJobs: one page of jobs in ``state`` (JOB_STATE_UNSPECIFIED: every state)."""
        request = service_pb2.ListJobsRequest(
            state=state,  # type: ignore[arg-type]
            page_size=self.settings.page_size,
            page_token=page_token,
        )
        return await self._api.ListJobs(request, **self._call_options())

    async def get_job(self, job_id: str) -> service_pb2.GetJobResponse:
        """GetJob: one job with its slices."""
        request = service_pb2.GetJobRequest(job_id=job_id)
        return await self._api.GetJob(request, **self._call_options())

    def watch(self, after_event_id: str) -> WatchCall:
        """WatchJobs: every job's events after ``after_event_id`` ("" = from now on).

        The stream has no deadline: it stays open until the server or the caller ends it.
        """
        request = service_pb2.WatchJobsRequest(after_event_id=after_event_id)
        return self._api.WatchJobs(request, metadata=self._metadata)

    async def cancel(self, job_id: str) -> jobs_pb2.Job:
        """CancelJob; returns the job after the cancel."""
        request = service_pb2.CancelJobRequest(job_id=job_id)
        return (await self._api.CancelJob(request, **self._call_options())).job

    async def retry(self, job_id: str) -> jobs_pb2.Job:
        """RetryJob; returns the job, queued again."""
        request = service_pb2.RetryJobRequest(job_id=job_id)
        return (await self._api.RetryJob(request, **self._call_options())).job

    async def delete(self, job_id: str) -> jobs_pb2.Job:
        """DeleteJob; returns the deleted job's last record."""
        request = service_pb2.DeleteJobRequest(job_id=job_id)
        return (await self._api.DeleteJob(request, **self._call_options())).job

    async def scan(self) -> service_pb2.ScanLibraryResponse:
        """ScanLibrary; only the counts are read, so ask for no decisions beyond one."""
        request = service_pb2.ScanLibraryRequest(max_decisions=1)
        # A scan walks the whole library: give it longer than a plain call.
        options = self._call_options() | {"timeout": self.settings.timeout * 6}
        return await self._api.ScanLibrary(request, **options)


def is_unreachable(error: BaseException) -> bool:
    """Whether the error means the server cannot be reached (or is going away)."""
    return isinstance(error, grpc.aio.AioRpcError) and error.code() is grpc.StatusCode.UNAVAILABLE


def is_unauthenticated(error: BaseException) -> bool:
    """Whether the server refused the call for a missing or wrong token."""
    return (
        isinstance(error, grpc.aio.AioRpcError) and error.code() is grpc.StatusCode.UNAUTHENTICATED
    )


def is_timeout(error: BaseException) -> bool:
    """Whether the call ran out of time (a hung server, or a slow call such as a big scan)."""
    return (
        isinstance(error, grpc.aio.AioRpcError)
        and error.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    )


def describe_error(error: BaseException, address: str) -> str:
    """One line for the user: the status code and what the server said.

    A failed connection reads ``UNAVAILABLE: cannot reach HOST:PORT (connection refused)``
    instead of grpc's long transport message.
    """
    if not isinstance(error, grpc.aio.AioRpcError):
        return f"{type(error).__name__}: {error}"
    code = error.code()
    details = (error.details() or "").strip()
    if code is grpc.StatusCode.UNAVAILABLE and details.startswith("failed to connect"):
        lowered = details.lower()
        reason = next(
            (
                words
                for needle, words in (
                    ("connection refused", "connection refused"),
                    ("name resolution", "unknown host"),
                    ("dns resolution", "unknown host"),
                    ("timed out", "timed out"),
                )
                if needle in lowered
            ),
            None,
        )
        suffix = f" ({reason})" if reason else ""
        return f"UNAVAILABLE: cannot reach {address}{suffix}"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"DEADLINE_EXCEEDED: {address} did not answer in time"
    if code is grpc.StatusCode.UNAUTHENTICATED:
        # The server's own words name grpcurl's header flag; say what this program takes.
        if details.startswith("missing"):
            return (
                f"UNAUTHENTICATED: {address} needs its token: start the TUI with "
                "--token-file FILE (or set $CLUSTERCODE_TOKEN)"
            )
        reason = details.partition(":")[0] or "refused"
        return (
            f"UNAUTHENTICATED: {address} refused the token ({reason}): check the file given "
            "with --token-file (or $CLUSTERCODE_TOKEN)"
        )
    return f"{code.name}: {details}" if details else code.name
