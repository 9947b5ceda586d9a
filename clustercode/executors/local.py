"""Run transcode Workflow manifests on this machine, each container as a local process.

The executor runs the manifest itself, the same document Argo receives: DAG dependencies,
``withParam``/``withItems`` fan-out, parameter substitution, output parameters from files,
``retryStrategy`` with backoff, template, DAG and workflow ``parallelism``, ``onExit``,
``activeDeadlineSeconds`` and progress through ``ARGO_PROGRESS_FILE``. Fields that only matter to
Kubernetes (images, resources, node selectors, tolerations, pod GC, TTL) are ignored; anything
else it cannot honour is a :class:`~clustercode.errors.ManifestError` at submit time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from clustercode.errors import ExecutorError, NotFoundError
from clustercode.executors._manifest import parse_manifest
from clustercode.executors._run import CANCELLED, Limits, Run
from clustercode.executors.base import ExecEvent, RunEvent, RunInfo

log = logging.getLogger(__name__)

__all__ = ["LocalExecutor"]


class LocalExecutor:
    """Runs Workflow manifests as local processes.

    Args:
        max_parallel: most processes running at once over all runs (default: CPU count).
        kill_grace: seconds between SIGTERM and SIGKILL when a step is cancelled.
        poll_interval: seconds between reads of a step's progress file.
        keep_finished: finished runs remembered for :meth:`watch` and :meth:`list_runs`.
        scratch_dir: where per-run progress files go (default: the system temp directory).
        close_timeout: seconds :meth:`close` waits for exit handlers before killing them.
    """

    name = "local"

    def __init__(
        self,
        *,
        max_parallel: int | None = None,
        kill_grace: float = 5.0,
        poll_interval: float = 0.5,
        keep_finished: int = 1000,
        scratch_dir: Path | None = None,
        close_timeout: float = 30.0,
    ) -> None:
        slots = max_parallel or os.cpu_count() or 1
        if slots < 1:
            raise ValueError(f"max_parallel must be at least 1, got {max_parallel}")
        self.max_parallel = slots
        self._kill_grace = kill_grace
        self._poll_interval = poll_interval
        self._limits: Limits | None = None
        self._keep_finished = keep_finished
        self._scratch_dir = scratch_dir
        self._runs: dict[str, Run] = {}
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._close_timeout = close_timeout

    def _shared_limits(self) -> Limits:
        # The semaphore is made on first use so that it belongs to the running event loop.
        if self._limits is None:
            self._limits = Limits(
                slots=asyncio.Semaphore(self.max_parallel),
                poll_interval=self._poll_interval,
                kill_grace=self._kill_grace,
            )
        return self._limits

    async def submit(self, manifest: Mapping[str, Any]) -> str:
        """Start the Workflow; return its name. Submitting a name that is known returns it again.

        Raises:
            ManifestError: the manifest uses something the local executor cannot run.
            ExecutorError: the executor is closed.
        """
        if self._closed:
            raise ExecutorError("the local executor is closed")
        plan = parse_manifest(manifest)
        if plan.name in self._runs:
            log.info("workflow %s already exists; not submitted again", plan.name)
            return plan.name
        scratch = Path(tempfile.mkdtemp(prefix=f"{plan.name}-", dir=self._scratch_dir))
        run = Run(plan, self._shared_limits(), scratch)
        self._runs[plan.name] = run
        driver = asyncio.create_task(self._drive(run, scratch), name=f"workflow {plan.name}")
        self._drivers[plan.name] = driver
        self._forget_old_runs()
        log.info("workflow %s submitted", plan.name)
        return plan.name

    async def _drive(self, run: Run, scratch: Path) -> None:
        try:
            await run.drive()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            self._drivers.pop(run.plan.name, None)
            log.info("workflow %s %s %s", run.plan.name, run.state.phase.value, run.state.message)

    def _forget_old_runs(self) -> None:
        finished = [name for name, run in self._runs.items() if run.state.phase.done]
        for name in finished[: max(0, len(finished) - self._keep_finished)]:
            del self._runs[name]

    def _run(self, run_id: str) -> Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise NotFoundError(f"no local workflow named {run_id!r}") from None

    async def watch(self, run_id: str) -> AsyncIterator[ExecEvent]:
        """Yield the current state of every node, then live events, then the final RunEvent.

        Raises:
            NotFoundError: no run of that name is known.
        """
        async for event in self._run(run_id).state.watch():
            yield event

    async def wait(self, run_id: str) -> RunEvent:
        """Wait for the run to end and return its final event."""
        state = self._run(run_id).state
        await state.finished.wait()
        return RunEvent(run_id=run_id, phase=state.phase, message=state.message)

    async def cancel(self, run_id: str) -> None:
        """Kill the run's processes (SIGTERM, then SIGKILL after the grace), then run onExit.

        The run ends Failed with the message ``cancelled``. No-op for a finished run.

        Raises:
            NotFoundError: no run of that name is known.
        """
        if self._run(run_id).cancel(CANCELLED):
            log.info("workflow %s cancelled", run_id)

    def running_pids(self, run_id: str) -> dict[str, int]:
        """Process ids of the run's running nodes, by node id (each leads its process group)."""
        return dict(self._run(run_id).pids)

    async def list_runs(self, labels: Mapping[str, str]) -> list[RunInfo]:
        """Runs (running and recently finished) whose labels include ``labels``."""
        return [
            run.state.info()
            for run in self._runs.values()
            if labels.items() <= run.state.labels.items()
        ]

    async def check(self) -> str:
        """``""`` when the executor can run work, else what is wrong."""
        if self._closed:
            return "the local executor is closed"
        return ""

    async def close(self) -> None:
        """Cancel every running workflow, let exit handlers finish, then stop.

        A run whose exit handler is still busy after ``close_timeout`` seconds is killed.
        """
        self._closed = True
        for run in self._runs.values():
            run.cancel(CANCELLED)
        drivers = list(self._drivers.values())
        if not drivers:
            return
        _done, stuck = await asyncio.wait(drivers, timeout=self._close_timeout)
        for driver in stuck:
            driver.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
