"""The simulated argo-server's Workflows: each run by a local executor, read in Argo's shape."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clustercode.errors import ClustercodeError
from clustercode.executors.base import NodeEvent, Phase, RunEvent
from clustercode.executors.local import LocalExecutor
from tests.support.argosim._rewrite import VolumeError, host_manifest
from tests.support.argosim._status import NodeRecord, RunView, now, workflow_status

log = logging.getLogger(__name__)

STOPPED = "Stopped with strategy '{}'"


class ApiError(Exception):
    """An error argo-server answers with: an HTTP status and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True, kw_only=True)
class KillRule:
    """Kill the process of the matching attempt as soon as it runs (a pod evicted or deleted)."""

    task: str
    attempt: int = 0
    parameters: Mapping[str, str] = field(default_factory=dict)
    done: bool = False

    def matches(self, event: NodeEvent) -> bool:
        return (
            event.task == self.task
            and event.attempt == self.attempt
            and self.parameters.items() <= event.parameters.items()
        )


@dataclass(slots=True, kw_only=True)
class SimWorkflow:
    """One submitted Workflow and what its local run reported."""

    namespace: str
    name: str
    local_name: str
    manifest: dict[str, Any]
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=now)
    serial: int = 0
    phase: Phase = Phase.PENDING
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    shutdown: str | None = None
    records: dict[str, NodeRecord] = field(default_factory=dict)
    kills: list[KillRule] = field(default_factory=list)
    follower: asyncio.Task[None] | None = None
    version: int = 1

    def labels(self) -> dict[str, str]:
        """The manifest's labels and the ones Argo's controller adds."""
        labels = dict((self.manifest.get("metadata") or {}).get("labels") or {})
        labels["workflows.argoproj.io/phase"] = self.phase.value
        labels["workflows.argoproj.io/completed"] = "true" if self.phase.done else "false"
        return labels

    def document(self) -> dict[str, Any]:
        """The Workflow as argo-server returns it: metadata, spec and status."""
        metadata = dict(self.manifest.get("metadata") or {})
        labels = self.labels()
        metadata.update(
            name=self.name,
            namespace=self.namespace,
            uid=self.uid,
            resourceVersion=str(self.version),
            generation=1,
            creationTimestamp=self.created_at,
            labels=labels,
        )
        spec = dict(self.manifest.get("spec") or {})
        if self.shutdown:
            spec["shutdown"] = self.shutdown
        view = RunView(
            name=self.name,
            spec=spec,
            phase=self.phase,
            message=self.message,
            started_at=self.started_at,
            finished_at=self.finished_at,
            records=self.records,
        )
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": metadata,
            "spec": spec,
            "status": workflow_status(view),
        }


class Simulation:
    """Workflows by namespace and name, run with a :class:`LocalExecutor`.

    Args:
        executor: runs the Workflows' steps as local processes.
        claims: host directory of each PersistentVolumeClaim name.
    """

    def __init__(self, executor: LocalExecutor, claims: Mapping[str, str]) -> None:
        self._executor = executor
        self._claims = dict(claims)
        self._workflows: dict[tuple[str, str], SimWorkflow] = {}
        self._serial = 0
        self._lives: dict[str, int] = {}

    def _find(self, namespace: str, name: str) -> SimWorkflow:
        try:
            return self._workflows[namespace, name]
        except KeyError:
            raise ApiError(404, f'workflows.argoproj.io "{name}" not found') from None

    async def create(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create and start a Workflow from a ``WorkflowCreateRequest`` body."""
        manifest = body.get("workflow")
        if not isinstance(manifest, dict):
            raise ApiError(400, "the request has no workflow")
        metadata = dict(manifest.get("metadata") or {})
        name = metadata.get("name") or ""
        if not name and metadata.get("generateName"):
            name = f"{metadata['generateName']}{uuid.uuid4().hex[:5]}"
        if not name:
            raise ApiError(400, "workflow has no metadata.name or metadata.generateName")
        if (namespace, name) in self._workflows:
            raise ApiError(409, f'workflows.argoproj.io "{name}" already exists')
        if any(key[1] == name for key in self._workflows):
            raise ApiError(
                409,
                f"the simulated argo-server already runs a workflow {name!r} in another namespace",
            )
        metadata.update(name=name, namespace=namespace)
        manifest = {**manifest, "metadata": metadata}
        # The local executor remembers finished runs by name: a name created again after a
        # delete runs under a new local name.
        life = self._lives.get(name, 0)
        self._lives[name] = life + 1
        local_name = name if life == 0 else f"{name}-sim{life}"
        try:
            local = host_manifest(manifest, self._claims)
            local["metadata"] = {**local["metadata"], "name": local_name}
            await self._executor.submit(local)
        except (VolumeError, ClustercodeError) as exc:
            raise ApiError(400, str(exc)) from None
        self._serial += 1
        workflow = SimWorkflow(
            namespace=namespace,
            name=name,
            local_name=local_name,
            manifest=manifest,
            serial=self._serial,
        )
        self._workflows[namespace, name] = workflow
        workflow.follower = asyncio.create_task(self._follow(workflow), name=f"follow {name}")
        log.info("workflow %s/%s created", namespace, name)
        return workflow.document()

    async def _follow(self, workflow: SimWorkflow) -> None:
        async for event in self._executor.watch(workflow.local_name):
            workflow.version += 1
            if isinstance(event, RunEvent):
                self._on_run(workflow, event)
            else:
                self._on_node(workflow, event)

    @staticmethod
    def _on_run(workflow: SimWorkflow, event: RunEvent) -> None:
        if event.phase is not Phase.PENDING and workflow.started_at is None:
            workflow.started_at = now()
        workflow.phase = event.phase
        workflow.message = event.message
        if event.phase.done:
            workflow.finished_at = now()
            if workflow.shutdown is not None:
                workflow.message = STOPPED.format(workflow.shutdown)
            log.info("workflow %s %s %s", workflow.name, event.phase.value, workflow.message)

    def _on_node(self, workflow: SimWorkflow, event: NodeEvent) -> None:
        record = workflow.records.get(event.node_id)
        if record is None:
            record = workflow.records[event.node_id] = NodeRecord(event=event, started_at=now())
        record.event = event
        if event.phase.done and record.finished_at is None:
            record.finished_at = now()
        if event.phase is Phase.RUNNING:
            self._apply_kills(workflow, event)

    def _apply_kills(self, workflow: SimWorkflow, event: NodeEvent) -> None:
        for rule in workflow.kills:
            if rule.done or not rule.matches(event):
                continue
            pid = self._executor.running_pids(workflow.local_name).get(event.node_id)
            if pid is None:
                continue
            rule.done = True
            log.info("workflow %s: killing %s (pid %d) as asked", workflow.name, event.node_id, pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        """The Workflow with its status."""
        return self._find(namespace, name).document()

    async def list(
        self, namespace: str, selector: str, limit: int | None, continue_: str | None
    ) -> dict[str, Any]:
        """Workflows of the namespace matching the label selector, newest first, paged."""
        terms = parse_selector(selector)
        matching = [
            w
            for (ns, _), w in self._workflows.items()
            if ns == namespace and all(t.matches(w.labels()) for t in terms)
        ]
        matching.sort(key=lambda w: w.serial, reverse=True)
        start = int(continue_) if continue_ and continue_.isdigit() else 0
        end = len(matching) if not limit else start + limit
        page = matching[start:end]
        meta: dict[str, Any] = {"resourceVersion": str(self._serial)}
        if end < len(matching):
            meta["continue"] = str(end)
        return {"metadata": meta, "items": [w.document() for w in page]}

    async def shut_down(self, namespace: str, name: str, strategy: str) -> dict[str, Any]:
        """``Stop`` or ``Terminate``: both cancel the local run, whose exit handler still runs."""
        workflow = self._find(namespace, name)
        if workflow.phase.done:
            raise ApiError(
                500,
                f'cannot shutdown a completed workflow: workflow: "{name}", '
                f'namespace: "{namespace}"',
            )
        workflow.shutdown = strategy
        workflow.version += 1
        await self._executor.cancel(workflow.local_name)
        log.info("workflow %s: %s requested", name, strategy)
        return workflow.document()

    async def delete(self, namespace: str, name: str) -> None:
        """Forget the Workflow, cancelling its run first."""
        workflow = self._find(namespace, name)
        if not workflow.phase.done:
            await self._executor.cancel(workflow.local_name)
        del self._workflows[namespace, name]
        if workflow.follower is not None:
            workflow.follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await workflow.follower

    async def arm_kill(self, namespace: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Simulation hook: kill the matching attempt's process once it runs (now if it does)."""
        workflow = self._find(namespace, name)
        task = body.get("task")
        if not isinstance(task, str) or not task:
            raise ApiError(400, "kill needs a task")
        parameters = body.get("parameters") or {}
        rule = KillRule(
            task=task,
            attempt=int(body.get("attempt", 0)),
            parameters={str(k): str(v) for k, v in parameters.items()},
        )
        workflow.kills.append(rule)
        for record in list(workflow.records.values()):
            if record.event.phase is Phase.RUNNING:
                self._apply_kills(workflow, record.event)
        return {"armed": True, "killed": rule.done}


@dataclass(frozen=True, slots=True)
class Term:
    """One term of a label selector."""

    key: str
    op: str  # "=", "!=", "exists", "!exists"
    value: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy the term."""
        if self.op == "=":
            return labels.get(self.key) == self.value
        if self.op == "!=":
            return labels.get(self.key) != self.value
        return (self.key in labels) == (self.op == "exists")


def parse_selector(selector: str) -> list[Term]:
    """Kubernetes equality-based label selector terms: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``.

    Raises:
        ApiError: a term is not of those forms (set-based terms are not simulated).
    """
    terms = []
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in raw:
            key, value = raw.split("!=", 1)
            terms.append(Term(key.strip(), "!=", value.strip()))
        elif "=" in raw:
            key, value = raw.replace("==", "=").split("=", 1)
            terms.append(Term(key.strip(), "=", value.strip()))
        elif raw.startswith("!"):
            terms.append(Term(raw[1:].strip(), "!exists"))
        elif " " not in raw and "(" not in raw:
            terms.append(Term(raw, "exists"))
        else:
            raise ApiError(400, f"unable to parse requirement: {raw!r}")
    return terms
