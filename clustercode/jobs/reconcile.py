"""Bring the job store in line with the executor when the control service (re)starts.

A control service can die at any moment; its workflows go on (on Argo) or die with it (local).
At start: jobs marked running whose workflow still exists are followed again (a workflow that
finished meanwhile is recorded from its final state); jobs whose workflow is gone go back to the
queue; failed jobs waiting for a retry are queued; workflows that belong to no job are reported,
and stopped if the settings say so. No job is lost and none is run twice.
"""

from __future__ import annotations

import asyncio
import logging

from clustercode.backoff import OUTAGE_BACKOFF
from clustercode.errors import (
    ClustercodeError,
    FailedPreconditionError,
    NotFoundError,
    UnavailableError,
)
from clustercode.executors.base import Executor
from clustercode.jobs.scheduler import Scheduler
from clustercode.models import Job, JobState
from clustercode.store.history import History
from pipelines.contract import MANAGED_BY_LABEL, MANAGED_BY_VALUE

log = logging.getLogger(__name__)


async def _all_jobs(history: History, state: JobState) -> list[Job]:
    jobs, token = await history.list_jobs(state, 1000, "")
    while token:
        more, token = await history.list_jobs(state, 1000, token)
        jobs.extend(more)
    return jobs


async def _move(history: History, job: Job, expected: JobState, error: str) -> None:
    """Queue ``job`` again unless a user changed it meanwhile (cancelled, deleted)."""
    try:
        await history.set_state(job.id, JobState.QUEUED, error=error, expect=(expected,))
    except (NotFoundError, FailedPreconditionError) as exc:
        log.info("job %s: left as it is: %s", job.id, exc)


async def reconcile(
    history: History, executor: Executor, scheduler: Scheduler, *, stop_unknown: bool
) -> None:
    """Reconcile once.

    Raises:
        UnavailableError: the executor or Redis cannot be reached.
    """
    runs = {r.run_id: r for r in await executor.list_runs({MANAGED_BY_LABEL: MANAGED_BY_VALUE})}
    running = await _all_jobs(history, JobState.RUNNING)
    for job in running:
        if job.run_id in runs:
            log.info("job %s: following workflow %s again", job.id, job.run_id)
            scheduler.adopt(job)
        else:
            log.info("job %s: its workflow %s is gone; queued again", job.id, job.run_id)
            await _move(history, job, JobState.RUNNING, "")
    for job in await _all_jobs(history, JobState.FAILED):
        await _move(history, job, JobState.FAILED, job.error)
    known = {job.run_id for job in running}
    for run in runs.values():
        if run.run_id in known or run.phase.done:
            continue
        if stop_unknown:
            log.warning("workflow %s belongs to no running job: stopping it", run.run_id)
            await executor.cancel(run.run_id)
        else:
            log.warning("workflow %s belongs to no running job", run.run_id)


async def reconcile_until_done(
    history: History, executor: Executor, scheduler: Scheduler, *, stop_unknown: bool
) -> None:
    """Reconcile, trying again with backoff while the executor or Redis is unreachable; then
    let the scheduler start jobs (it starts none before, so nothing runs twice)."""
    failures = 0
    try:
        while True:
            try:
                await reconcile(history, executor, scheduler, stop_unknown=stop_unknown)
                return
            except UnavailableError as exc:
                failures += 1
                delay = OUTAGE_BACKOFF.delay(failures)
                log.warning("cannot reconcile yet: %s; trying again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
            except ClustercodeError as exc:
                log.error("reconciling failed: %s; starting jobs anyway", exc)
                return
    finally:
        scheduler.ready.set()
        scheduler.wake()
