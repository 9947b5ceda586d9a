"""The ClustercodeService servicer: requests in, control-plane calls, responses out.

Each method converts its request with :mod:`clustercode.server.convert`, calls the control
plane, and converts the result back. Errors become status codes in :mod:`.errors`; nothing here
decides a status code itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

import grpc

from clustercode.api.v1 import service_pb2, service_pb2_grpc
from clustercode.errors import UnavailableError
from clustercode.models import JobEvent
from clustercode.server import convert
from clustercode.server.control import ControlPlane
from clustercode.server.errors import grpc_errors

__all__ = ["SERVICE_NAME", "ClustercodeServicer", "ControlPlane"]

SERVICE_NAME: str = service_pb2.DESCRIPTOR.services_by_name["ClustercodeService"].full_name

# Generic only in the type stubs, hence a string.
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"

_END = object()


class ClustercodeServicer(service_pb2_grpc.ClustercodeServiceServicer):
    """Serves clustercode.v1.ClustercodeService from a control plane."""

    def __init__(self, control: ControlPlane, *, shutdown: asyncio.Event | None = None) -> None:
        """Create the servicer.

        Args:
            control: the control plane the RPCs act on.
            shutdown: once set, open WatchJobs streams end with UNAVAILABLE so the server can
                stop without waiting out its grace period.
        """
        self._control = control
        self._shutdown = shutdown or asyncio.Event()

    async def GetStatus(
        self, request: service_pb2.GetStatusRequest, context: Context
    ) -> service_pb2.GetStatusResponse:
        """Report versions, health and job counts."""
        async with grpc_errors(context, "GetStatus"):
            return convert.status_to_proto(await self._control.status())

    async def ScanLibrary(
        self, request: service_pb2.ScanLibraryRequest, context: Context
    ) -> service_pb2.ScanLibraryResponse:
        """Scan the library now."""
        async with grpc_errors(context, "ScanLibrary"):
            limit = convert.max_decisions_from(request.max_decisions)
            return convert.scan_to_proto(await self._control.scan(), limit)

    async def SubmitFile(
        self, request: service_pb2.SubmitFileRequest, context: Context
    ) -> service_pb2.SubmitFileResponse:
        """Queue one file."""
        async with grpc_errors(context, "SubmitFile"):
            path = convert.required(request.path, "path")
            profile = None
            if request.HasField("profile"):
                profile = convert.required(request.profile, "profile")
            priority = request.priority if request.HasField("priority") else None
            job = await self._control.submit(
                path, profile=profile, priority=priority, force=request.force
            )
            return service_pb2.SubmitFileResponse(job=convert.job_to_proto(job))

    async def ExplainFile(
        self, request: service_pb2.ExplainFileRequest, context: Context
    ) -> service_pb2.ExplainFileResponse:
        """Explain what would happen to one file."""
        async with grpc_errors(context, "ExplainFile"):
            path = convert.required(request.path, "path")
            return convert.explanation_to_proto(await self._control.explain(path))

    async def ListJobs(
        self, request: service_pb2.ListJobsRequest, context: Context
    ) -> service_pb2.ListJobsResponse:
        """Return one page of jobs."""
        async with grpc_errors(context, "ListJobs"):
            jobs, next_token = await self._control.list_jobs(
                state=convert.job_state_from_proto(request.state),
                page_size=convert.page_size_from(request.page_size),
                page_token=request.page_token,
            )
            return service_pb2.ListJobsResponse(
                jobs=[convert.job_to_proto(job) for job in jobs], next_page_token=next_token
            )

    async def GetJob(
        self, request: service_pb2.GetJobRequest, context: Context
    ) -> service_pb2.GetJobResponse:
        """Return a job with its slices."""
        async with grpc_errors(context, "GetJob"):
            job, slices = await self._control.get_job(convert.required(request.job_id, "job_id"))
            return service_pb2.GetJobResponse(
                job=convert.job_to_proto(job), slices=[convert.slice_to_proto(s) for s in slices]
            )

    async def WatchJobs(
        self, request: service_pb2.WatchJobsRequest, context: Context
    ) -> AsyncIterator[service_pb2.WatchJobsResponse]:
        """Stream job events until the client leaves or the server shuts down."""
        async with grpc_errors(context, "WatchJobs"):
            events = self._control.watch(
                job_id=request.job_id or None, after=request.after_event_id
            )
            try:
                async for event in self._until_shutdown(events, context):
                    yield service_pb2.WatchJobsResponse(event=convert.event_to_proto(event))
            finally:
                # Stop the control plane's reader (e.g. a blocking Redis XREAD) now, not when
                # the generator is collected.
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()

    async def CancelJob(
        self, request: service_pb2.CancelJobRequest, context: Context
    ) -> service_pb2.CancelJobResponse:
        """Cancel a queued or running job."""
        async with grpc_errors(context, "CancelJob"):
            job = await self._control.cancel(convert.required(request.job_id, "job_id"))
            return service_pb2.CancelJobResponse(job=convert.job_to_proto(job))

    async def RetryJob(
        self, request: service_pb2.RetryJobRequest, context: Context
    ) -> service_pb2.RetryJobResponse:
        """Queue a finished job again."""
        async with grpc_errors(context, "RetryJob"):
            job = await self._control.retry(convert.required(request.job_id, "job_id"))
            return service_pb2.RetryJobResponse(job=convert.job_to_proto(job))

    async def DeleteJob(
        self, request: service_pb2.DeleteJobRequest, context: Context
    ) -> service_pb2.DeleteJobResponse:
        """Delete a job's history entry."""
        async with grpc_errors(context, "DeleteJob"):
            job = await self._control.delete(convert.required(request.job_id, "job_id"))
            return service_pb2.DeleteJobResponse(job=convert.job_to_proto(job))

    async def ListProfiles(
        self, request: service_pb2.ListProfilesRequest, context: Context
    ) -> service_pb2.ListProfilesResponse:
        """Return the named profiles."""
        async with grpc_errors(context, "ListProfiles"):
            profiles = await self._control.list_profiles()
            return service_pb2.ListProfilesResponse(
                profiles=[convert.profile_to_proto(p) for p in profiles]
            )

    async def _until_shutdown(
        self, events: AsyncIterator[JobEvent], context: Context
    ) -> AsyncIterator[JobEvent]:
        """Yield events until they end; raise UnavailableError once the server shuts down."""
        shutdown = asyncio.ensure_future(self._shutdown.wait())
        pending: asyncio.Future[object] | None = None
        last = ""
        try:
            pending = asyncio.ensure_future(_next(events))
            # Let the control plane's watch start, then send the headers: a client learns the
            # stream is open without waiting for the first event.
            await asyncio.sleep(0)
            await context.send_initial_metadata(())
            while True:
                pending = pending or asyncio.ensure_future(_next(events))
                await asyncio.wait((pending, shutdown), return_when=asyncio.FIRST_COMPLETED)
                if not pending.done():
                    resume = f"after_event_id={last!r}" if last else "the last event_id you saw"
                    raise UnavailableError(f"the server is shutting down; reconnect with {resume}")
                event = pending.result()
                pending = None
                if event is _END:
                    return
                assert isinstance(event, JobEvent)
                last = event.id
                yield event
        finally:
            for task in (pending, shutdown):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


async def _next(events: AsyncIterator[JobEvent]) -> object:
    # A coroutine, so that the end of the stream is a value rather than an exception in a task.
    try:
        return await anext(events)
    except StopAsyncIteration:
        return _END
