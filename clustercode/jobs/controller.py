"""The control plane's facade: what the CLI and the gRPC servicer call.

A :class:`Controller` owns the job store, the executor, the profiles, the scan decisions and the
scheduler. Protobuf types never reach it; it speaks the types of :mod:`clustercode.models`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from clustercode import __version__
from clustercode.backoff import Backoff
from clustercode.config.settings import Settings
from clustercode.errors import (
    ClustercodeError,
    FailedPreconditionError,
    InvalidArgumentError,
    excerpt,
)
from clustercode.executors import Executor, make_executor
from clustercode.jobs.activity import log_scan
from clustercode.jobs.decide import Decider
from clustercode.jobs.in_place import record_in_place_output
from clustercode.jobs.periodic import scan_periodically
from clustercode.jobs.reconcile import reconcile, reconcile_until_done
from clustercode.jobs.recovery import remove_work
from clustercode.jobs.resolve import output_path, resolve_file
from clustercode.jobs.runner import JobRunner
from clustercode.jobs.scheduler import ENVIRONMENT_BACKOFF, Scheduler
from clustercode.jobs.startup import prepare
from clustercode.jobs.stopping import interrupt, keep_lease, wait_until_stopped
from clustercode.jobs.views import Explanation, ProfileSummary, ScanProgress, ScanReport, Status
from clustercode.jobs.workflows import ManifestFactory, manifest_factory, min_slices
from clustercode.library.mediainfo import probe
from clustercode.library.scanner import ScanEntry
from clustercode.models import Decision, DecisionKind, Job, JobEvent, JobState, SliceProgress
from clustercode.profiles.profileset import ProfileSet, Resolution
from clustercode.store._codec import check_event_id
from clustercode.store.connection import RedisHandle, connect
from clustercode.store.history import History
from clustercode.store.lease import Holder, Lease
from clustercode.store.watchhub import EventHub
from pipelines.contract import slice_count

log = logging.getLogger(__name__)

__all__ = ["Controller", "Explanation", "ProfileSummary", "ScanReport", "Status"]


class Controller:
    """Scans, queues, runs and reports jobs.

    Use :meth:`open` to build one from settings; the constructor takes ready parts (tests).
    """

    def __init__(
        self,
        settings: Settings,
        history: History,
        executor: Executor,
        profiles: ProfileSet,
        manifests: ManifestFactory,
        *,
        pause_backoff: Backoff = ENVIRONMENT_BACKOFF,
    ) -> None:
        self.settings = settings
        self.history = history
        self.executor = executor
        self.profiles = profiles
        self.decider = Decider(settings, profiles, history)
        self.events = EventHub(history, max_subscribers=settings.max_watch_streams)
        self.last_scan: ScanReport | None = None
        self.runner = JobRunner(history, executor, manifests, max_attempts=settings.max_attempts)
        self.scheduler = Scheduler(
            history,
            self.runner,
            max_jobs=settings.max_jobs,
            retry_backoff=settings.retry_backoff,
            on_success=functools.partial(record_in_place_output, history)
            if settings.in_place
            else None,
            on_end=self._remove_work if executor.name == "local" else None,
            pause_backoff=pause_backoff,
        )
        # Called with every scan's report (the activity log; metrics add theirs).
        self.scan_observers: list[Callable[[ScanReport], None]] = [log_scan]
        self.lease: Lease | None = None
        """The store's controller lease while this controller runs jobs."""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        run_jobs: bool = True,
        wait: bool = False,
        on_wait: Callable[[Holder], None] | None = None,
        pause_backoff: Backoff = ENVIRONMENT_BACKOFF,
    ) -> AsyncIterator[Controller]:
        """Connect Redis, take the store's lease, start the executor, reconcile, and close all of
        it on exit.

        Args:
            settings: the configuration.
            run_jobs: False for a read-only look (``explain``): no lease, no reconciliation and
                no job is started or cancelled, so a control service running beside it is
                undisturbed.
            wait: wait for the lease while another control service holds it (else refuse).
            on_wait: called with the holder when waiting starts.
            pause_backoff: the pause after an environment failure (see :class:`Scheduler`).

        Raises:
            LeaseError: another control service runs jobs on the same store (without ``wait``).
        """
        profiles = prepare(settings)
        manifests = manifest_factory(settings)
        handle: RedisHandle = await connect(settings.redis_url, settings.state_dir)
        executor: Executor | None = None
        controller: Controller | None = None
        lease: Lease | None = None
        try:
            if run_jobs:
                lease = Lease(handle)
                await lease.acquire(wait=wait, on_wait=on_wait)
            executor = make_executor(settings)
            history = History(handle)
            controller = cls(
                settings, history, executor, profiles, manifests, pause_backoff=pause_backoff
            )
            if lease is None:
                yield controller
                return
            controller.lease = lease
            local = executor.name == "local"
            reconciling = asyncio.create_task(
                reconcile_until_done(
                    controller.history,
                    executor,
                    controller.scheduler,
                    stop_unknown=controller._stop_unknown,
                    work_dir=settings.work_dir if local else None,
                )
            )
            keeping = asyncio.create_task(keep_lease(lease, controller.scheduler, executor))
            try:
                # A reachable executor is reconciled before anything new starts.
                await asyncio.wait({reconciling}, timeout=10)
                yield controller
            finally:
                for task in (reconciling, keeping):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                # Local work dies with this process: cancel it cleanly. Argo workflows go on
                # without us; the next start follows them again. A controller that lost the
                # lease leaves the jobs to the new holder.
                await controller.scheduler.shutdown(
                    cancel_running=local and not lease.lost.is_set(), requeue=True
                )
        finally:
            if controller is not None:
                await controller.events.close()
            if executor is not None:
                await executor.close()
            if lease is not None and not lease.lost.is_set():
                await lease.release()
            await handle.close()

    @property
    def lease_lost(self) -> bool:
        """Whether another control service took this one's lease (it then runs nothing)."""
        return self.lease is not None and self.lease.lost.is_set()

    async def interrupt(self, *, grace: float = 5.0, requeue: bool = False) -> None:
        """Stop now (Ctrl-C); see :func:`clustercode.jobs.stopping.interrupt`."""
        await interrupt(self.history, self.scheduler, grace=grace, requeue=requeue)

    async def _remove_work(self, job: Job) -> None:
        """A job ended for good: its work directory (plan, slices, result) is not needed."""
        await asyncio.to_thread(remove_work, self.settings.work_dir, job.id)

    async def reconcile(self) -> None:
        """Bring Redis in line with the executor (see :mod:`clustercode.jobs.reconcile`)."""
        await reconcile(
            self.history, self.executor, self.scheduler, stop_unknown=self._stop_unknown
        )

    @property
    def _stop_unknown(self) -> bool:
        return self.executor.name == "argo" and self.settings.argo.stop_unknown

    async def status(self) -> Status:
        """Version, executor and Redis health, queue depth, active jobs, counts, scan, pause."""
        redis_error = ""
        counts: dict[JobState, int] = {}
        try:
            counts = await self.history.counts()
        except ClustercodeError as exc:
            redis_error = str(exc)
        try:
            executor_error = await self.executor.check()
        except ClustercodeError as exc:
            executor_error = str(exc)
        return Status(
            version=__version__,
            executor=self.executor.name,
            executor_error=executor_error,
            redis_error=redis_error,
            queue_depth=counts.get(JobState.QUEUED, 0),
            active_jobs=counts.get(JobState.RUNNING, 0),
            counts=counts,
            scan=ScanProgress.of(self.last_scan) if self.last_scan is not None else None,
            pause=self.scheduler.pause_status,
        )

    async def scan(
        self,
        *,
        on_decision: Callable[[Decision], None] | None = None,
        quiet_done: bool = False,
    ) -> ScanReport:
        """Scan the library now and queue what is new; jobs start while the walk goes on.

        The report is :attr:`last_scan` from the start, so :meth:`status` shows its progress.
        ``on_decision`` and ``quiet_done`` are those of :meth:`Decider.scan`.
        """
        report = self.last_scan = ScanReport()
        await self.decider.scan(
            report=report,
            on_decision=on_decision,
            quiet_done=quiet_done,
            on_queued=lambda _job: self.scheduler.wake(),
        )
        for observe in self.scan_observers:
            observe(report)
        return report

    async def submit(
        self,
        path: str,
        *,
        profile: str | None = None,
        priority: int | None = None,
        force: bool = False,
    ) -> Job:
        """Queue one file of the library now.

        Args:
            path: relative to a library root, or absolute inside one.
            profile: a named profile to use instead of the cascade's choice.
            priority: overrides the profile's priority.
            force: transcode even when a skip rule applies or the file was done.

        Raises:
            InvalidArgumentError: bad path or unknown profile.
            FailedPreconditionError: the file is done, parked or skipped (without ``force``).
        """
        entry, resolution = self._resolve(path, profile)
        decision, job = await self.decider.decide_file(entry, resolution, queue=True)
        if job is None and decision.job_id:
            existing = await self.history.get_job(decision.job_id)
            if existing.state in (JobState.QUEUED, JobState.RUNNING, JobState.FAILED):
                return existing
            if not force:
                raise FailedPreconditionError(f"{path}: {decision.reason}; use force to redo it")
            await self.history.delete_job(existing.id)
            decision, job = await self.decider.decide_file(entry, resolution, queue=True)
        if job is None and force and decision.kind is DecisionKind.SKIPPED:
            decision, job = await self.decider.decide_file(
                entry, replace(resolution, ignored=None), queue=True, skip_rules=False
            )
        if job is None:
            raise FailedPreconditionError(f"{path}: {decision.reason}")
        if priority is not None and priority != job.priority:
            job = await self.history.update_job(job.id, priority=priority)
        self.scheduler.wake()
        return job

    async def explain(self, path: str) -> Explanation:
        """Which files decided what for ``path``, and what a scan would do with it."""
        entry, resolution = self._resolve(path, None, fresh=True)
        decision, _ = await self.decider.decide_file(entry, resolution, queue=False)
        duration, frames = 0.0, 0
        with contextlib.suppress(ClustercodeError):
            info = await asyncio.to_thread(probe, entry.path)
            duration = info.duration or 0.0
            frames = round(duration * (info.frame_rate or 0.0))
        slice_seconds = self.settings.slice_seconds or resolution.profile.slice_seconds
        slices = slice_count(duration, slice_seconds, min_slices(self.settings)) if duration else 0
        output = output_path(self.settings, resolution)
        return Explanation(
            path=str(entry.path),
            profile=resolution.profile.name,
            origins={setting: origin for setting, _, origin in resolution.describe()},
            values={setting: value for setting, value, _ in resolution.describe()},
            output=str(output),
            decision=decision,
            skip_reason=decision.reason if decision.kind is DecisionKind.SKIPPED else "",
            slices=slices,
            frames=frames,
            duration=duration,
        )

    async def list_jobs(
        self, *, state: JobState | None = None, page_size: int = 50, page_token: str = ""
    ) -> tuple[list[Job], str]:
        """One page of jobs, newest first, and the next page's token."""
        if page_size < 0 or page_size > 1000:
            raise InvalidArgumentError("page_size", "must be between 1 and 1000")
        return await self.history.list_jobs(state, page_size or 50, page_token)

    async def get_job(self, job_id: str) -> tuple[Job, list[SliceProgress]]:
        """A job and its slices."""
        _check_id(job_id)
        return await self.history.get_job(job_id), await self.history.get_slices(job_id)

    async def watch(self, *, job_id: str | None = None, after: str = "") -> AsyncIterator[JobEvent]:
        """Job events as they happen, optionally of one job, resumable after an event id."""
        if job_id:
            _check_id(job_id)
            await self.history.get_job(job_id)
        check_event_id(after or "$", "after_event_id")
        async for event in self.events.subscribe(after or "$"):
            if not job_id or event.job_id == job_id:
                yield event

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job; nothing is published and work files are removed."""
        _check_id(job_id)
        job = await self.history.get_job(job_id)
        if job.state.final:
            raise FailedPreconditionError(f"job {job_id} is {job.state.value}: nothing to cancel")
        await self.scheduler.cancel(job)
        if job.state is JobState.RUNNING:
            return await wait_until_stopped(self.history, job_id)
        return await self.history.get_job(job_id)

    async def retry(self, job_id: str) -> Job:
        """Queue a parked, cancelled or failed job again with a fresh attempt count."""
        _check_id(job_id)
        job = await self.history.get_job(job_id)
        if job.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED):
            raise FailedPreconditionError(
                f"job {job_id} is {job.state.value}: only parked, failed or cancelled jobs "
                "can be retried (delete a succeeded job to redo its file)"
            )
        job = await self.history.set_state(
            job_id,
            JobState.QUEUED,
            expect=(JobState.PARKED, JobState.CANCELLED, JobState.FAILED),
            attempts=0,
            # A retry starts over: the last attempt's progress would read as this one's.
            frames_done=0,
            slices_done=0,
        )
        await self.history.set_slices(job_id, [])
        self.scheduler.wake()
        return job

    async def delete(self, job_id: str) -> Job:
        """Remove a job from the history; its file is queued again at the next scan."""
        _check_id(job_id)
        return await self.history.delete_job(job_id)

    async def list_profiles(self) -> list[ProfileSummary]:
        """The named profiles, built-in and the user's."""
        return [ProfileSummary.of(self.profiles, name) for name in self.profiles.names()]

    async def run_until_idle(self) -> None:
        """Run queued jobs until none is queued, running or waiting for a retry."""
        await self.scheduler.run(until_idle=True)

    async def serve_forever(self, stop: asyncio.Event) -> None:
        """Run the scheduler and periodic scans until ``stop`` is set."""
        scans = asyncio.create_task(scan_periodically(self.scan, self.settings, stop))
        try:
            await self.scheduler.run(stop=stop)
        finally:
            scans.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scans

    def _resolve(
        self, path: str, profile: str | None, *, fresh: bool = False
    ) -> tuple[ScanEntry, Resolution]:
        return resolve_file(self.settings, self.profiles, path, profile, fresh=fresh)


def _check_id(job_id: str) -> None:
    if not job_id or len(job_id) > 64 or not (job_id.isascii() and job_id.isalnum()):
        raise InvalidArgumentError("job_id", f"{excerpt(job_id, 64)} is not a job id")
