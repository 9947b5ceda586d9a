"""Run transcode Workflows on Argo Workflows through argo-server's REST API (hera's async client).

Submitting is idempotent: workflow names are deterministic per job attempt, and a name argo-server
already knows is taken as submitted. Following a run polls the Workflow and turns each change of
an attempt's node (phase, ``N/M`` progress, message, outputs) into a
:class:`~clustercode.executors.base.NodeEvent`; a run that already finished replays its nodes,
then its final :class:`~clustercode.executors.base.RunEvent`. Every workflow this executor
submits carries ``app.kubernetes.io/managed-by=clustercode``, and :meth:`ArgoExecutor.list_runs`
only sees those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from hera.workflows.models import Workflow

from clustercode.backoff import Backoff
from clustercode.config.argo import ArgoSettings
from clustercode.errors import ExecutorError, NotFoundError, UnavailableError
from clustercode.executors._argo_client import ArgoClient
from clustercode.executors._argo_nodes import run_info, snapshot
from clustercode.executors.base import ExecEvent, NodeEvent, Phase, RunEvent, RunInfo
from pipelines.contract import MANAGED_BY_LABEL, MANAGED_BY_VALUE

log = logging.getLogger(__name__)

__all__ = ["MANAGED_BY", "ArgoExecutor"]

MANAGED_BY = (MANAGED_BY_LABEL, MANAGED_BY_VALUE)
"""The label every workflow of clustercode carries; listing is restricted to it."""

_PAGE = 500
_MAX_OUTAGE_WAIT = 10.0


class ArgoExecutor:
    """Runs Workflow manifests on Argo Workflows.

    Args:
        settings: the ``argo`` settings (URL, namespace, token file, TLS, timings).

    Raises:
        ConfigError: ``settings.url`` is missing or ``settings.ca_file`` cannot be read.
    """

    name = "argo"

    def __init__(self, settings: ArgoSettings) -> None:
        self.settings = settings
        self._client = ArgoClient(settings)
        self._escalations: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """argo-server's base URL."""
        return self._client.url

    async def submit(self, manifest: Mapping[str, Any]) -> str:
        """Create the Workflow; return its name. A name argo-server already has is not resubmitted.

        Raises:
            UnavailableError: argo-server cannot be reached or refuses the token.
            ExecutorError: argo-server rejects the Workflow.
        """
        name = str(manifest.get("metadata", {}).get("name") or "")
        if not name:
            raise ExecutorError("the Workflow manifest has no metadata.name")
        labels = manifest.get("metadata", {}).get("labels") or {}
        if labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
            # Without the label, list_runs (and so reconciliation) would never see it.
            manifest = {
                **manifest,
                "metadata": {
                    **manifest["metadata"],
                    "labels": {**labels, MANAGED_BY[0]: MANAGED_BY[1]},
                },
            }
        if await self._client.create(manifest):
            log.info("workflow %s created in namespace %s", name, self._client.namespace)
        else:
            log.info("workflow %s already exists; not submitted again", name)
        return name

    async def watch(self, run_id: str) -> AsyncIterator[ExecEvent]:
        """Yield the run's state, then its changes, ending after the final :class:`RunEvent`.

        A node event is yielded whenever an attempt's phase, progress, message or outputs
        change; nodes come in DAG order (``split`` before ``encode`` items before ``merge``).
        While argo-server is unreachable or refuses the token, reading is retried for
        ``watch_retry_seconds``.

        Raises:
            NotFoundError: argo-server has no Workflow of that name (never created, deleted,
                or removed by its TTL).
            UnavailableError: argo-server stayed unreachable for ``watch_retry_seconds``.
        """
        seen: dict[str, NodeEvent] = {}
        phase_sent: Phase | None = None
        while True:
            workflow = await self._read_patiently(run_id)
            state = snapshot(workflow)
            if not state.phase.done and state.phase is not phase_sent:
                phase_sent = state.phase
                yield RunEvent(run_id=run_id, phase=state.phase, message=state.message)
            for event in state.nodes:
                if seen.get(event.node_id) != event:
                    seen[event.node_id] = event
                    yield event
            if state.phase.done:
                yield RunEvent(run_id=run_id, phase=state.phase, message=state.message)
                return
            await asyncio.sleep(self.settings.poll_interval)

    async def _read_patiently(self, run_id: str) -> Workflow:
        """Read the Workflow, retrying with backoff while argo-server is unavailable."""
        outage_since: float | None = None
        failures = 0
        backoff = Backoff(initial=self.settings.poll_interval, maximum=_MAX_OUTAGE_WAIT)
        while True:
            try:
                workflow = await self._client.get(run_id)
            except UnavailableError as exc:
                now = time.monotonic()
                if outage_since is None:
                    outage_since = now
                    log.warning("workflow %s: %s; retrying", run_id, exc)
                if now - outage_since >= self.settings.watch_retry_seconds:
                    raise
                failures += 1
                await asyncio.sleep(backoff.delay(failures))
                continue
            if outage_since is not None:
                log.info("workflow %s: argo-server answers again", run_id)
            return workflow

    async def status(self, run_id: str) -> RunInfo:
        """The run's phase, labels and message now.

        Raises:
            NotFoundError: argo-server has no Workflow of that name.
            UnavailableError: argo-server cannot be reached or refuses the token.
        """
        return run_info(await self._client.get(run_id))

    async def cancel(self, run_id: str) -> None:
        """Stop the run (pods killed, exit handler runs), then terminate it if still running
        after ``stop_grace_seconds``. Returns once the stop is requested; no-op when finished.

        Raises:
            NotFoundError: argo-server has no Workflow of that name.
            UnavailableError: argo-server cannot be reached or refuses the token.
        """
        if (await self.status(run_id)).phase.done:
            return
        try:
            await self._client.stop(run_id)
        except ExecutorError:
            # Argo refuses to stop a workflow that finished meanwhile; that is a success here.
            if (await self.status(run_id)).phase.done:
                return
            raise
        log.info("workflow %s: stop requested", run_id)
        task = asyncio.create_task(self._terminate_later(run_id), name=f"terminate {run_id}")
        self._escalations.add(task)
        task.add_done_callback(self._escalations.discard)

    async def _terminate_later(self, run_id: str) -> None:
        deadline = time.monotonic() + self.settings.stop_grace_seconds
        try:
            while True:
                if (await self.status(run_id)).phase.done:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                await asyncio.sleep(min(left, self.settings.poll_interval))
            log.warning(
                "workflow %s still running %g s after stop; terminating",
                run_id,
                self.settings.stop_grace_seconds,
            )
            await self._client.terminate(run_id)
        except (ExecutorError, UnavailableError, NotFoundError) as exc:
            log.warning("workflow %s: could not terminate after stop: %s", run_id, exc)

    async def list_runs(self, labels: Mapping[str, str]) -> list[RunInfo]:
        """clustercode's Workflows in the namespace whose labels include ``labels``.

        Raises:
            UnavailableError: argo-server cannot be reached or refuses the token.
        """
        wanted = {MANAGED_BY[0]: MANAGED_BY[1], **labels}
        selector = ",".join(f"{key}={value}" for key, value in sorted(wanted.items()))
        runs: list[RunInfo] = []
        token: str | None = None
        while True:
            page = await self._client.list(selector, limit=_PAGE, continue_=token)
            runs.extend(run_info(w) for w in page.items or ())
            token = page.metadata.continue_ if page.metadata else None
            if not token:
                return runs

    async def check(self) -> str:
        """``""`` when argo-server answers and accepts the token, else what to fix."""
        try:
            await self._client.list(f"{MANAGED_BY[0]}={MANAGED_BY[1]}", limit=1, continue_=None)
        except (UnavailableError, ExecutorError) as exc:
            return str(exc)
        except Exception as exc:  # check() reports; a status call must never raise
            log.exception("argo check failed")
            return f"argo-server {self.url}: {exc}"
        return ""

    async def close(self) -> None:
        """Stop pending terminations and close connections. Workflows keep running in Argo."""
        for task in self._escalations:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._escalations, return_exceptions=True)
        await self._client.close()
