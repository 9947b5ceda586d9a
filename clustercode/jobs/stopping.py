"""How a control service stops running jobs: on Ctrl-C, when it lost the store's lease, and
waiting for a cancelled run to end."""

from __future__ import annotations

import asyncio
import logging
import time

from clustercode.errors import ClustercodeError
from clustercode.executors.base import Executor
from clustercode.jobs.scheduler import Scheduler
from clustercode.models import Job, JobState
from clustercode.store.history import History
from clustercode.store.lease import Lease

log = logging.getLogger(__name__)

__all__ = ["interrupt", "keep_lease", "wait_until_stopped"]


async def interrupt(history: History, scheduler: Scheduler, *, grace: float, requeue: bool) -> None:
    """Start nothing more, cancel the running workflows (queue their jobs again with
    ``requeue``) and give that ``grace`` seconds to be recorded.

    With Redis away nothing can be recorded, so nothing is waited for: the workflows are stopped
    and those jobs stay running in the store; the next start settles them (a proven output is
    recorded as succeeded, anything else is queued again).
    """
    scheduler.stop_starting()
    try:
        async with asyncio.timeout(1.0):
            await history.ping()
    except (ClustercodeError, TimeoutError):
        grace = 0.0
    try:
        async with asyncio.timeout(grace):
            await scheduler.shutdown(cancel_running=True, requeue=requeue)
    except TimeoutError:
        log.warning("the job store did not record the stop in %.0f s; moving on", grace)
        await scheduler.shutdown(cancel_running=False)


async def keep_lease(lease: Lease, scheduler: Scheduler, executor: Executor) -> None:
    """Renew the lease; once lost, start and follow no more jobs and stop local work (the new
    holder reconciles them; whatever this process might still write is refused by the run
    number)."""
    await lease.keep()
    if not lease.lost.is_set():
        return
    scheduler.stop_starting()
    await scheduler.shutdown(cancel_running=False)
    if executor.name == "local":
        await executor.close()


async def wait_until_stopped(history: History, job_id: str, *, within: float = 60.0) -> Job:
    """The job's record once it is no longer running (a cancelled run takes a moment to end),
    or as it is after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = await history.get_job(job_id)
        if job.state is not JobState.RUNNING:
            return job
        await asyncio.sleep(0.1)
    return await history.get_job(job_id)
