"""Start queued jobs by priority, at most ``max_jobs`` at a time; retry failed ones with backoff."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from clustercode.backoff import OUTAGE_BACKOFF, Backoff
from clustercode.errors import (
    ClustercodeError,
    FailedPreconditionError,
    NotFoundError,
    StaleRunError,
    UnavailableError,
    one_line,
)
from clustercode.jobs.runner import JobRunner
from clustercode.jobs.views import SchedulerPause
from clustercode.models import Job, JobState
from clustercode.store.history import History

log = logging.getLogger(__name__)

ENVIRONMENT_BACKOFF = Backoff(initial=30.0, maximum=600.0)
"""How long nothing starts after the n-th environment failure in a row: 30 s up to 10 min."""

MAX_PAUSE_REASON = 300
"""Characters of a pause's reason kept (it may quote a file name from the library)."""


class Scheduler:
    """Runs jobs from the queue.

    Args:
        history: the job store (the queue is its ``queued`` state set).
        runner: runs one job attempt.
        max_jobs: jobs running at once.
        retry_backoff: seconds before a failed job's second attempt; doubles per attempt.
        on_success: called with each job that succeeded.
        on_end: called with each job that ended for good (succeeded, cancelled, parked).
        pause_backoff: how long nothing starts after an environment failure, by the number of
            such failures in a row (see :meth:`pause`).
    """

    def __init__(
        self,
        history: History,
        runner: JobRunner,
        *,
        max_jobs: int,
        retry_backoff: float,
        on_success: Callable[[Job], Awaitable[None]] | None = None,
        on_end: Callable[[Job], Awaitable[None]] | None = None,
        pause_backoff: Backoff = ENVIRONMENT_BACKOFF,
    ) -> None:
        self._history = history
        self._runner = runner
        self._max_jobs = max(1, max_jobs)
        self._retry_backoff = Backoff(initial=retry_backoff, maximum=None)
        self._pause_backoff = pause_backoff
        self.paused: str | None = None
        """Why no job starts now (one line, bounded); ``None`` while jobs start."""
        self._pauses = 0
        self._resume_at = 0.0
        self._running: dict[str, asyncio.Task[Job]] = {}
        self._retry_at: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._on_success = on_success
        self._on_end = on_end
        self._closing = False
        self.ready = asyncio.Event()
        """Set once the job store is reconciled with the executor; no job starts before."""

    @property
    def running(self) -> list[str]:
        """Ids of the jobs running now."""
        return list(self._running)

    def wake(self) -> None:
        """Look at the queue now (a job was queued or retried)."""
        self._wake.set()

    async def run(self, *, until_idle: bool = False, stop: asyncio.Event | None = None) -> None:
        """Start jobs as they come.

        Args:
            until_idle: return once nothing is queued, waiting for a retry or running.
            stop: return when set (running jobs keep running; see :meth:`shutdown`).
        """
        failures = 0
        while (stop is None or not stop.is_set()) and not self._closing:
            try:
                await self._requeue_due()
                await self._start_queued()
                idle = until_idle and not self._running and not self._retry_at
                if idle and (self.paused or not await self._history.next_queued(1)):
                    return
                failures = 0
                timeout = self._next_retry_delay()
            except UnavailableError as exc:
                # Redis is away: keep the loop (and every running job's follower) alive.
                failures += 1
                timeout = OUTAGE_BACKOFF.delay(failures)
                log.warning("scheduler: %s; looking again in %.0f s", exc, timeout)
            self._wake.clear()
            waiters: list[asyncio.Future[object]] = [
                asyncio.ensure_future(self._wake.wait()),
                *self._running.values(),  # type: ignore[list-item]
            ]
            if stop is not None:
                waiters.append(asyncio.ensure_future(stop.wait()))
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                if waiter not in self._running.values() and not waiter.done():
                    waiter.cancel()

    @property
    def pause_status(self) -> SchedulerPause | None:
        """The pause as status shows it: reason, next try (wall clock), pauses in a row."""
        if self.paused is None:
            return None
        left = max(0.0, self._resume_at - time.monotonic())
        return SchedulerPause(reason=self.paused, next_try=time.time() + left, pauses=self._pauses)

    def pause(self, reason: str) -> None:
        """Start nothing new for a while: the environment (ffmpeg, an encoder, the disk) cannot
        do the work. Tried again after ``pause_backoff`` (30 s doubling to 10 min); ``run``
        stops. The reason comes from a step and may quote a file name: it is kept as one line of
        at most :data:`MAX_PAUSE_REASON` characters."""
        self._pauses += 1
        delay = self._pause_backoff.delay(self._pauses)
        self.paused = one_line(reason, MAX_PAUSE_REASON)
        self._resume_at = time.monotonic() + delay
        log.warning("paused, no job starts: %s; trying again in %.0f s", self.paused, delay)

    def adopt(self, job: Job) -> None:
        """Follow a job whose run was started before a restart of the control service."""
        if job.id in self._running:
            return
        self._running[job.id] = asyncio.create_task(
            self._run_one(job, follow=True), name=f"job-{job.id}"
        )

    async def cancel(self, job: Job) -> None:
        """Cancel a queued, failed or running job."""
        self._retry_at.pop(job.id, None)
        if job.id in self._running:
            await self._runner.cancel(job)
            return
        if job.state in (JobState.QUEUED, JobState.FAILED):
            await self._history.set_state(
                job.id,
                JobState.CANCELLED,
                error="cancelled",
                finished_at=time.time(),
                expect=(JobState.QUEUED, JobState.FAILED),
            )
            return
        raise FailedPreconditionError(f"job {job.id} is {job.state.value}: nothing to cancel")

    def stop_starting(self) -> None:
        """Start no more jobs (the control service lost its lease); :meth:`run` returns."""
        self._closing = True
        self.wake()

    async def shutdown(self, *, cancel_running: bool, requeue: bool = False) -> None:
        """Stop running jobs' work, or stop following them.

        Args:
            cancel_running: cancel the jobs' workflows and wait until they are recorded as
                cancelled; otherwise leave the workflows running (Argo) and stop following
                them: the jobs stay ``running`` and the next start follows them again.
            requeue: cancelled jobs go back to the queue instead of ending cancelled (the
                control service stops; the user did not cancel them).
        """
        self._closing = True
        tasks = list(self._running.values())
        if cancel_running:
            for job_id in list(self._running):
                with contextlib.suppress(ClustercodeError):
                    await self._runner.cancel(job_id, requeue=requeue)
        else:
            for task in tasks:
                task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _start_queued(self) -> None:
        if self._closing or not self.ready.is_set():
            return
        if self.paused is not None:
            if time.monotonic() < self._resume_at:
                return
            self.paused = None
        free = self._max_jobs - len(self._running)
        if free <= 0:
            return
        for job in await self._history.next_queued(free + len(self._running)):
            if job.id in self._running:
                continue
            if len(self._running) >= self._max_jobs:
                break
            task = asyncio.create_task(self._run_one(job), name=f"job-{job.id}")
            self._running[job.id] = task

    async def _run_one(self, job: Job, *, follow: bool = False) -> Job:
        # The job leaves the running set only after its follow-up (hook, retry time) is done:
        # run(until_idle=True) must not see an idle moment in between.
        try:
            try:
                final = await (self._runner.follow(job) if follow else self._runner.run(job))
            except StaleRunError as exc:
                # A newer run owns the job now; this one records nothing more.
                log.warning("job %s: %s", job.id, exc)
                return job
            except (ClustercodeError, ValueError, KeyError, TypeError) as exc:
                log.exception("job %s: %s", job.id, exc)
                final = await self._runner.abandon(job, f"internal error: {exc}")
            environment = self._runner.take_environment_failure(job.id)
            if environment is not None:
                self.pause(environment)
            elif final.state is JobState.SUCCEEDED:
                self._pauses = 0
            if final.state is JobState.SUCCEEDED and self._on_success is not None:
                try:
                    await self._on_success(final)
                except (ClustercodeError, OSError) as exc:
                    log.warning("job %s: %s", job.id, exc)
            if final.state.final and self._on_end is not None:
                await self._on_end(final)
            if final.state is JobState.FAILED:
                delay = self._retry_backoff.delay(final.attempts)
                self._retry_at[job.id] = time.monotonic() + delay
                log.info("job %s failed (%s); retrying in %.0f s", job.id, final.error, delay)
            return final
        finally:
            self._running.pop(job.id, None)
            self._wake.set()

    async def _requeue_due(self) -> None:
        now = time.monotonic()
        for job_id, at in list(self._retry_at.items()):
            if at <= now:
                del self._retry_at[job_id]
                try:
                    job = await self._history.get_job(job_id)
                    if job.state is JobState.FAILED:
                        await self._history.set_state(
                            job_id, JobState.QUEUED, error=job.error, expect=(JobState.FAILED,)
                        )
                except (NotFoundError, FailedPreconditionError):
                    continue  # deleted or changed by a user meanwhile

    def _next_retry_delay(self) -> float:
        due = list(self._retry_at.values())
        if self.paused is not None:
            due.append(self._resume_at)
        if not due:
            return 5.0
        return max(0.0, min(due) - time.monotonic())
