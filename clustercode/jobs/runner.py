"""Run one job through an executor and keep its record, slices and events current."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from clustercode.backoff import OUTAGE_BACKOFF
from clustercode.errors import (
    ClustercodeError,
    FailedPreconditionError,
    NotFoundError,
    StaleRunError,
    UnavailableError,
)
from clustercode.executors.base import Executor, NodeEvent, Phase, RunEvent
from clustercode.jobs.recovery import free_requeue
from clustercode.jobs.workflows import ManifestFactory
from clustercode.models import Job, JobState, SliceProgress
from clustercode.store.history import History
from pipelines.contract import (
    ENCODE,
    EXIT_ENVIRONMENT,
    INDEX_INPUT,
    MERGE,
    RESULT_OUTPUT,
    SLICES_OUTPUT,
    SPLIT,
)
from pipelines.identity import SOURCE_CHANGED, source_identity

log = logging.getLogger(__name__)

CANCELLED_MESSAGE = "cancelled"

"""Builds the Workflow manifest for a job's attempt number."""


@dataclass(slots=True)
class _SliceClock:
    """Frames and time of a slice's previous progress report, for its fps."""

    frames: int = 0
    at: float = field(default_factory=time.monotonic)


class JobRunner:
    """Submits a job's Workflow and turns executor events into history updates.

    Args:
        history: the job store.
        executor: runs the Workflow.
        make_manifest: builds the manifest for a job attempt.
        max_attempts: after this many failed attempts a job is parked.
    """

    def __init__(
        self,
        history: History,
        executor: Executor,
        make_manifest: ManifestFactory,
        *,
        max_attempts: int,
    ) -> None:
        self._history = history
        self._executor = executor
        self._make_manifest = make_manifest
        self._max_attempts = max_attempts
        self._cancelled: set[str] = set()
        self._requeue: set[str] = set()
        # Jobs whose run hit an environment failure (a step exited EXIT_ENVIRONMENT): the
        # machine is at fault, so the job loses no attempt and the scheduler pauses.
        self._environment: dict[str, str] = {}
        self._environment_ended: dict[str, str] = {}
        # Job id -> the run this process follows, so a stop needs no Redis.
        self._following: dict[str, str] = {}

    def take_environment_failure(self, job_id: str) -> str | None:
        """Why the job's last run stopped on an environment failure, once; else ``None``."""
        return self._environment_ended.pop(job_id, None)

    async def run(self, job: Job) -> Job:
        """Run one attempt of ``job`` to its end and return the job's final record."""
        if job.attempts >= self._max_attempts:
            # Its runs kept being lost (crashes beyond the free re-queues): the limit holds.
            return await self._history.set_state(
                job.id,
                JobState.PARKED,
                error=f"parked after {job.attempts} attempts: {job.error or 'its runs were lost'}",
                expect=(JobState.QUEUED,),
            )
        attempt = job.attempts + 1
        run_number = max(job.runs, job.attempts) + 1
        try:
            manifest = self._make_manifest(job, run_number)
        except ClustercodeError as exc:
            return await self._history.set_state(
                job.id, JobState.PARKED, error=str(exc), attempts=attempt, expect=(JobState.QUEUED,)
            )
        run_id = str(manifest["metadata"]["name"])
        identity = await asyncio.to_thread(_identity_json, job.source)
        try:
            # Only a queued job starts: a cancel that came first wins.
            job = await self._history.set_state(
                job.id,
                JobState.RUNNING,
                expect=(JobState.QUEUED,),
                attempts=attempt,
                runs=run_number,
                run_id=run_id,
                executor=self._executor.name,
                error="",
                slices_done=0,
                frames_done=0,
                source_identity=identity,
            )
        except FailedPreconditionError:
            self._cancelled.discard(job.id)
            return await self._history.get_job(job.id)
        self._following[job.id] = run_id
        if job.id in self._cancelled:
            return await self._finish(job, Phase.FAILED, CANCELLED_MESSAGE)
        try:
            await self._executor.submit(manifest)
        except UnavailableError as exc:
            # The executor is down, not the job: no attempt is used up, and the next try uses
            # the same workflow name, so a create that did reach argo-server is not doubled.
            return await self._history.set_state(
                job.id,
                JobState.FAILED,
                error=f"not submitted, retrying: {exc}",
                attempts=attempt - 1,
                runs=run_number - 1,
                expect_run=run_number,
            )
        except ClustercodeError as exc:
            return await self._finish(job, Phase.ERROR, str(exc))
        if job.id in self._cancelled:
            with contextlib.suppress(ClustercodeError):
                await self._executor.cancel(run_id)
        return await self.follow(job)

    async def abandon(self, job: Job, reason: str) -> Job:
        """Give up on following a job after an unexpected error: stop its run, mark it failed.

        The run is stopped first so that the retry that follows never overlaps it.
        """
        current = await self._history.get_job(job.id)
        if current.run_id:
            with contextlib.suppress(ClustercodeError):
                await self._executor.cancel(current.run_id)
        self._cancelled.discard(job.id)
        return await self._history.set_state(
            job.id, JobState.FAILED, error=reason, expect_run=current.runs
        )

    async def follow(self, job: Job) -> Job:
        """Follow the job's current run (also after a control-service restart) to its end.

        While the executor cannot be reached the job stays running and is followed again with
        backoff; a workflow that vanished sends the job back to the queue.
        """
        failures = 0
        while True:
            try:
                return await self._follow_once(job)
            except StaleRunError as exc:
                # Another control service (or a restart) moved the job on: this run is stale.
                log.warning("job %s: %s; stopping workflow %s", job.id, exc, job.run_id)
                with contextlib.suppress(ClustercodeError):
                    await self._executor.cancel(job.run_id)
                self._cancelled.discard(job.id)
                self._requeue.discard(job.id)
                raise
            except NotFoundError:
                # Not the job's fault: the run does not use up an attempt.
                return await self._history.set_state(
                    job.id,
                    JobState.QUEUED,
                    error=f"workflow {job.run_id} disappeared; queued again",
                    expect_run=job.runs,
                    attempts=job.attempts - 1 if free_requeue(job) else job.attempts,
                )
            except UnavailableError as exc:
                failures += 1
                delay = OUTAGE_BACKOFF.delay(failures)
                log.warning("job %s: %s; following again in %.0f s", job.id, exc, delay)
                await asyncio.sleep(delay)
                with contextlib.suppress(UnavailableError):
                    job = await self._history.get_job(job.id)

    async def _follow_once(self, job: Job) -> Job:
        self._following[job.id] = job.run_id
        try:
            return await self._follow_events(job)
        finally:
            self._following.pop(job.id, None)

    async def _follow_events(self, job: Job) -> Job:
        slices: dict[int, SliceProgress] = {
            s.index: s for s in await self._history.get_slices(job.id)
        }
        clocks: dict[int, _SliceClock] = {}
        async for event in self._executor.watch(job.run_id):
            if isinstance(event, RunEvent):
                if event.phase.done:
                    return await self._finish(job, event.phase, event.message)
                continue
            job = await self._on_node(job, event, slices, clocks)
        return await self._finish(job, Phase.ERROR, "the executor lost the workflow")

    async def cancel(self, job: Job | str, *, requeue: bool = False) -> None:
        """Ask the executor to stop the job's run; :meth:`run` then records it as cancelled.

        A job not yet submitted is not submitted at all. With ``requeue`` (the control service
        is shutting down, not the user cancelling) the job is queued again instead, without
        using up an attempt. A run this process follows is stopped without asking Redis, which
        may be away.
        """
        job_id = job if isinstance(job, str) else job.id
        self._cancelled.add(job_id)
        if requeue:
            self._requeue.add(job_id)
        run_id = self._following.get(job_id)
        if run_id is None:
            current = await self._history.get_job(job_id)
            if current.state is JobState.RUNNING:
                run_id = current.run_id
        if run_id:
            with contextlib.suppress(NotFoundError):
                await self._executor.cancel(run_id)

    async def _on_node(
        self,
        job: Job,
        event: NodeEvent,
        slices: dict[int, SliceProgress],
        clocks: dict[int, _SliceClock],
    ) -> Job:
        if event.exit_code == EXIT_ENVIRONMENT and job.id not in self._environment:
            await self._stop_for_environment(job, event)
        if event.task == SPLIT and event.phase is Phase.SUCCEEDED:
            items = json.loads(event.outputs.get(SLICES_OUTPUT, "[]"))
            planned = sorted(
                (
                    SliceProgress(index=int(i[INDEX_INPUT]), frames_total=int(i["frames"]))
                    for i in items
                ),
                key=lambda s: s.index,
            )
            slices.clear()
            slices.update({s.index: s for s in planned})
            await self._history.set_slices(job.id, planned)
            return await self._history.update_job(
                job.id,
                expect_run=job.runs,
                slices_total=len(planned),
                frames_total=sum(s.frames_total for s in planned),
            )
        if event.task == ENCODE and INDEX_INPUT in event.parameters:
            return await self._on_encode(job, event, slices, clocks)
        if (
            event.task == MERGE
            and event.phase is Phase.SUCCEEDED
            and RESULT_OUTPUT in event.outputs
        ):
            result = json.loads(event.outputs[RESULT_OUTPUT])
            return await self._history.update_job(
                job.id,
                expect_run=job.runs,
                size_after=int(result.get("size_after", 0)),
                output=str(result.get("output", job.output)),
            )
        if event.phase in (Phase.FAILED, Phase.ERROR) and event.message:
            log.info("job %s: %s failed: %s", job.id, event.task, event.message)
        return job

    async def _stop_for_environment(self, job: Job, event: NodeEvent) -> None:
        reason = event.message or f"{event.task} found the environment unusable"
        log.warning("job %s: %s: %s; stopping its run", job.id, event.task, reason)
        self._environment[job.id] = reason
        # The Workflow does not retry this step (its retryStrategy expression spares exit 3),
        # but the run's other steps, running or waiting to retry, would fail on the same
        # machine: stop the run now. This also covers a Workflow made without the expression.
        with contextlib.suppress(ClustercodeError):
            await self._executor.cancel(job.run_id)

    async def _on_encode(
        self,
        job: Job,
        event: NodeEvent,
        slices: dict[int, SliceProgress],
        clocks: dict[int, _SliceClock],
    ) -> Job:
        index = int(event.parameters[INDEX_INPUT])
        current = slices.get(index) or SliceProgress(index=index, frames_total=0)
        done, total = event.progress or (current.frames_done, current.frames_total)
        clock = clocks.setdefault(index, _SliceClock())
        now = time.monotonic()
        fps = current.fps
        if done > clock.frames and now > clock.at:
            fps = (done - clock.frames) / (now - clock.at)
        clocks[index] = _SliceClock(frames=done, at=now)
        state = {
            Phase.PENDING: "pending",
            Phase.RUNNING: "running",
            Phase.SUCCEEDED: "succeeded",
        }.get(event.phase, "failed")
        if state == "succeeded":
            done = total = total or current.frames_total
        updated = replace(
            current,
            frames_done=done,
            frames_total=total or current.frames_total,
            state=state,
            attempts=event.attempt + 1,
            fps=fps if state == "running" else 0.0,
            message=event.message,
        )
        if updated == current:
            return job
        slices[index] = updated
        await self._history.update_slice(job.id, updated)
        slices_done = sum(1 for s in slices.values() if s.state == "succeeded")
        frames_done = sum(s.frames_done for s in slices.values())
        if slices_done == job.slices_done and frames_done == job.frames_done:
            return job
        return await self._history.update_job(
            job.id, slices_done=slices_done, frames_done=frames_done, expect_run=job.runs
        )

    async def _finish(self, job: Job, phase: Phase, message: str) -> Job:
        now = time.time()
        cancelled = job.id in self._cancelled
        requeue = job.id in self._requeue
        self._cancelled.discard(job.id)
        self._requeue.discard(job.id)
        run = job.runs
        if phase is Phase.SUCCEEDED:
            return await self._history.set_state(
                job.id,
                JobState.SUCCEEDED,
                finished_at=now,
                slices_done=job.slices_total,
                frames_done=job.frames_total,
                expect_run=run,
            )
        if cancelled and requeue:
            return await self._history.set_state(
                job.id,
                JobState.QUEUED,
                error="interrupted by a shutdown of the control service; queued again",
                attempts=max(0, job.attempts - 1),
                expect_run=run,
            )
        if cancelled:
            self._environment.pop(job.id, None)
            return await self._history.set_state(
                job.id, JobState.CANCELLED, error=CANCELLED_MESSAGE, finished_at=now, expect_run=run
            )
        environment = self._environment.pop(job.id, None)
        if environment is not None:
            self._environment_ended[job.id] = environment
            return await self._history.set_state(
                job.id,
                JobState.QUEUED,
                error=f"waiting for a usable environment (no attempt used): {environment}",
                attempts=max(0, job.attempts - 1),
                expect_run=run,
            )
        reason = message or f"workflow {job.run_id} ended {phase.value}"
        if SOURCE_CHANGED in reason and free_requeue(job):
            # The file was replaced mid-job: nothing was published and the job is not at fault.
            return await self._history.set_state(
                job.id, JobState.QUEUED, error=reason, attempts=job.attempts - 1, expect_run=run
            )
        if job.attempts >= self._max_attempts:
            return await self._history.set_state(
                job.id,
                JobState.PARKED,
                error=f"parked after {job.attempts} attempts: {reason}",
                finished_at=now,
                expect_run=run,
            )
        return await self._history.set_state(job.id, JobState.FAILED, error=reason, expect_run=run)


def _identity_json(source: str) -> str:
    """The source's identity now, as stored on the job ("" when it cannot be read: the run's
    first step then fails with the reason)."""
    try:
        return json.dumps(source_identity(Path(source)).to_dict(), sort_keys=True)
    except OSError:
        return ""
