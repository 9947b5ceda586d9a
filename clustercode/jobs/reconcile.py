"""Bring the job store in line with the executor when the control service (re)starts.

A control service can die at any moment; its workflows go on (on Argo) or die with it (local).
At start: jobs marked running whose workflow still exists are followed again (a workflow that
finished meanwhile is recorded from its final state); jobs whose workflow is gone are recorded as
succeeded if their work directory proves the output was published and verified (see
:mod:`clustercode.jobs.recovery`), else go back to the queue without using up an attempt (the
crash was not the job's fault); failed jobs waiting for a retry are queued; workflows that
belong to no job are reported, and stopped if the settings say so. At the first reconciliation
of a local executor, work directories no live job owns are removed. No job is lost and none is
run twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from clustercode.backoff import OUTAGE_BACKOFF
from clustercode.errors import (
    ClustercodeError,
    FailedPreconditionError,
    NotFoundError,
    UnavailableError,
)
from clustercode.executors.base import Executor
from clustercode.jobs.recovery import free_requeue, published_result, sweep_work
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


async def _move(
    history: History, job: Job, expected: JobState, error: str, *, uncounted: bool = False
) -> None:
    """Queue ``job`` again unless a user changed it meanwhile (cancelled, deleted).

    With ``uncounted`` the run that ended does not use up an attempt.
    """
    attempts = job.attempts - 1 if uncounted and free_requeue(job) else job.attempts
    try:
        await history.set_state(
            job.id,
            JobState.QUEUED,
            error=error,
            expect=(expected,),
            expect_run=job.runs,
            attempts=attempts,
        )
    except (NotFoundError, FailedPreconditionError) as exc:
        log.info("job %s: left as it is: %s", job.id, exc)


async def _recover(history: History, job: Job, work_dir: Path | None) -> None:
    """A running job whose workflow is gone: done if the disk proves it, else queued again."""
    result = None
    if work_dir is not None:
        result = await asyncio.to_thread(published_result, work_dir, job)
    if result is None:
        log.info("job %s: its workflow %s is gone; queued again", job.id, job.run_id)
        await _move(history, job, JobState.RUNNING, "", uncounted=True)
        return
    log.info("job %s: its output %s was published and verified; recorded", job.id, job.output)
    try:
        await history.set_state(
            job.id,
            JobState.SUCCEEDED,
            expect=(JobState.RUNNING,),
            expect_run=job.runs,
            finished_at=time.time(),
            size_after=int(result.get("size_after", 0)),
            slices_done=job.slices_total,
            frames_done=job.frames_total,
        )
    except (NotFoundError, FailedPreconditionError) as exc:
        log.info("job %s: left as it is: %s", job.id, exc)


async def reconcile(
    history: History,
    executor: Executor,
    scheduler: Scheduler,
    *,
    stop_unknown: bool,
    work_dir: Path | None = None,
    sweep: bool = False,
) -> None:
    """Reconcile once.

    Args:
        work_dir: where the jobs' work directories are, if this process can see them.
        sweep: remove work directories that no queued, running or failed job owns (only before
            anything runs: a running workflow's scratch directory would go too).

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
            await _recover(history, job, work_dir)
    for job in await _all_jobs(history, JobState.FAILED):
        await _move(history, job, JobState.FAILED, job.error)
    if sweep and work_dir is not None:
        live: set[str] = set()
        for state in (JobState.QUEUED, JobState.RUNNING, JobState.FAILED):
            live.update(job.id for job in await _all_jobs(history, state))
        await asyncio.to_thread(sweep_work, work_dir, live)
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
    history: History,
    executor: Executor,
    scheduler: Scheduler,
    *,
    stop_unknown: bool,
    work_dir: Path | None = None,
) -> None:
    """Reconcile, trying again with backoff while the executor or Redis is unreachable; then
    let the scheduler start jobs (it starts none before, so nothing runs twice)."""
    failures = 0
    try:
        while True:
            try:
                await reconcile(
                    history,
                    executor,
                    scheduler,
                    stop_unknown=stop_unknown,
                    work_dir=work_dir,
                    sweep=True,
                )
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
