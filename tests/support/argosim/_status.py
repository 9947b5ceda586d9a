"""The simulated argo-server's Workflow status: the local executor's nodes in Argo's shape.

The local executor names an attempt ``encode(3)(1)`` (item 3, second attempt); Argo keeps a tree:
the workflow's ``DAG`` node, a ``TaskGroup`` per fan-out task, a ``Retry`` node per task or item
whose template retries, and a ``Pod`` node per attempt, named ``<retry node>(<attempt>)``. Node
ids are derived from node names with FNV-1a as Argo does, and a fan-out item's name carries the
item (``cc-x-1.encode(3:frames:48,index:3)``). The DAG's dependency edges are not reproduced:
the workflow node's children are its tasks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clustercode.executors.base import NodeEvent, Phase

_LOCAL_ID = re.compile(r"^(?P<task>[^()]+)(?:\((?P<index>\d+)\))?\((?P<attempt>\d+)\)$")
_TASK_OUTPUT = re.compile(r"^\{\{\s*tasks\.([\w-]+)\.outputs\.parameters\.([\w-]+)\s*\}\}$")
_ACTIVE = (Phase.PENDING, Phase.RUNNING)
_FAILED = (Phase.FAILED, Phase.ERROR)


def now() -> str:
    """The current time as Kubernetes writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class NodeRecord:
    """The latest event of one local node and when it started and finished."""

    event: NodeEvent
    started_at: str
    finished_at: str | None = None


@dataclass(slots=True, kw_only=True)
class RunView:
    """What the status is built from."""

    name: str
    spec: Mapping[str, Any]
    phase: Phase
    message: str
    started_at: str | None
    finished_at: str | None
    records: Mapping[str, NodeRecord] = field(default_factory=dict)


def node_id(workflow: str, node_name: str) -> str:
    """Argo's node id: the workflow name and the FNV-1a hash of the node name."""
    if node_name == workflow:
        return workflow
    value = 0x811C9DC5
    for byte in node_name.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{workflow}-{value}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def item_label(item: Any) -> str:
    """An item as Argo writes it into a node name: ``frames:48,index:3`` for an object."""
    if isinstance(item, dict):
        return ",".join(sorted(f"{k}:{_scalar(v)}" for k, v in item.items()))
    return _scalar(item)


def _progress(done: int, total: int) -> str:
    return f"{done}/{total}"


def _sum_progress(nodes: list[dict[str, Any]]) -> str:
    done = total = 0
    for node in nodes:
        d, _, t = str(node.get("progress", "0/0")).partition("/")
        done, total = done + int(d or 0), total + int(t or 0)
    return _progress(done, total)


def _parameters(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in values.items()]


class _Builder:
    def __init__(self, view: RunView) -> None:
        self.view = view
        self.wf = view.name
        spec = view.spec
        self.templates = {t.get("name"): t for t in spec.get("templates", [])}
        self.entrypoint = str(spec.get("entrypoint", ""))
        dag = self.templates.get(self.entrypoint, {}).get("dag", {})
        self.tasks: dict[str, Mapping[str, Any]] = {t["name"]: t for t in dag.get("tasks", [])}
        self.nodes: dict[str, dict[str, Any]] = {}
        self._items: dict[str, list[Any] | None] = {}

    def build(self) -> dict[str, Any]:
        view = self.view
        grouped: dict[tuple[str, int | None], dict[int, NodeRecord]] = {}
        for local_id, record in view.records.items():
            match = _LOCAL_ID.match(local_id)
            if match is None:
                continue
            index = match.group("index")
            key = (match.group("task"), None if index is None else int(index))
            grouped.setdefault(key, {})[int(match.group("attempt"))] = record
        top: dict[str, dict[str, Any]] = {}
        for (task, index), attempts in grouped.items():
            node = self._task_node(task, index, attempts)
            if node["displayName"] != "onExit":
                top.setdefault(node["name"], node)
        root_phase = view.phase if view.phase.done else Phase.RUNNING
        pods = [n for n in self.nodes.values() if n["type"] == "Pod"]
        root = {
            "id": self.wf,
            "name": self.wf,
            "displayName": self.wf,
            "type": "DAG",
            "templateName": self.entrypoint,
            "templateScope": f"local/{self.wf}",
            "phase": root_phase.value,
            "startedAt": view.started_at or now(),
            "progress": _sum_progress(pods),
            "children": [n["id"] for n in sorted(top.values(), key=self._order)],
        }
        if view.finished_at:
            root["finishedAt"] = view.finished_at
        self.nodes[self.wf] = root
        status: dict[str, Any] = {
            "phase": view.phase.value,
            "progress": _sum_progress(pods),
            "nodes": self.nodes,
        }
        if view.started_at:
            status["startedAt"] = view.started_at
        if view.finished_at:
            status["finishedAt"] = view.finished_at
        if view.message:
            status["message"] = view.message
        return status

    def _order(self, node: Mapping[str, Any]) -> int:
        names = list(self.tasks)
        display = node["displayName"]
        return names.index(display) if display in names else len(names)

    def _items_of(self, task: str) -> list[Any] | None:
        if task in self._items:
            return self._items[task]
        spec = self.tasks.get(task, {})
        items: list[Any] | None = None
        if isinstance(spec.get("withItems"), list):
            items = list(spec["withItems"])
        match = _TASK_OUTPUT.match(str(spec.get("withParam", "")))
        if match is not None:
            source, parameter = match.groups()
            for record in self.view.records.values():
                event = record.event
                if event.task == source and parameter in event.outputs:
                    try:
                        loaded = json.loads(event.outputs[parameter])
                    except json.JSONDecodeError:
                        continue
                    items = loaded if isinstance(loaded, list) else None
        self._items[task] = items
        return items

    def _add(self, node: dict[str, Any]) -> dict[str, Any]:
        node["id"] = node_id(self.wf, node["name"])
        node.setdefault("templateScope", f"local/{self.wf}")
        if node["displayName"].split("(", 1)[0] != "onExit":
            node.setdefault("boundaryID", self.wf)
        self.nodes[node["id"]] = node
        return node

    def _task_node(
        self, task: str, index: int | None, attempts: Mapping[int, NodeRecord]
    ) -> dict[str, Any]:
        """Add the nodes of one task (or fan-out item); return the task's top node."""
        base = f"{self.wf}.{task}"
        name, display = base, task
        if index is not None:
            items = self._items_of(task)
            item = items[index] if items is not None and index < len(items) else None
            label = (
                item_label(item)
                if item is not None
                else item_label(dict(attempts[max(attempts)].event.parameters))
            )
            name, display = f"{base}({index}:{label})", f"{task}({index}:{label})"
        latest = attempts[max(attempts)]
        template = self.templates.get(latest.event.template, {})
        retry = template.get("retryStrategy")
        if retry is None:
            pod = self._add(self._pod(name, display, latest))
        else:
            pods = [
                self._add(self._pod(f"{name}({a})", f"{display}({a})", attempts[a]))
                for a in sorted(attempts)
            ]
            pod = self._add(self._retry(name, display, latest, pods, retry))
        if index is None:
            return pod
        group = self.nodes.get(node_id(self.wf, base))
        if group is None:
            group = self._add(
                {
                    "name": base,
                    "displayName": task,
                    "type": "TaskGroup",
                    "templateName": latest.event.template,
                    "children": [],
                }
            )
        children = {c: self.nodes[c] for c in group["children"]} | {pod["id"]: pod}
        ordered = sorted(
            children.values(), key=lambda n: int(n["displayName"].split("(")[1].split(":")[0])
        )
        group["children"] = [n["id"] for n in ordered]
        self._aggregate(group, ordered, final=self.view.phase.done)
        return group

    def _pod(self, name: str, display: str, record: NodeRecord) -> dict[str, Any]:
        event = record.event
        if event.progress is not None:
            done, total = event.progress
            if event.phase is Phase.SUCCEEDED:
                done = total
        else:
            done, total = (1, 1) if event.phase is Phase.SUCCEEDED else (0, 1)
        node: dict[str, Any] = {
            "name": name,
            "displayName": display,
            "type": "Pod",
            "templateName": event.template,
            "phase": event.phase.value,
            "startedAt": record.started_at,
            "progress": _progress(done, total),
            "hostNodeName": "simulated-node",
        }
        if record.finished_at:
            node["finishedAt"] = record.finished_at
        if event.message:
            node["message"] = event.message
        if event.parameters:
            node["inputs"] = {"parameters": _parameters(event.parameters)}
        if event.outputs:
            node["outputs"] = {"parameters": _parameters(event.outputs)}
        return node

    def _retry(
        self,
        name: str,
        display: str,
        latest: NodeRecord,
        pods: list[dict[str, Any]],
        retry: Mapping[str, Any],
    ) -> dict[str, Any]:
        node: dict[str, Any] = {
            "name": name,
            "displayName": display,
            "type": "Retry",
            "templateName": latest.event.template,
            "startedAt": pods[0]["startedAt"],
            "children": [p["id"] for p in pods],
        }
        if latest.event.parameters:
            node["inputs"] = {"parameters": _parameters(latest.event.parameters)}
        limit = int(retry.get("limit", 0) or 0)
        self._aggregate(node, pods, final=self.view.phase.done or len(pods) > limit)
        last = pods[-1]
        if node["phase"] == Phase.SUCCEEDED.value and "outputs" in last:
            node["outputs"] = last["outputs"]
        return node

    @staticmethod
    def _aggregate(node: dict[str, Any], children: list[dict[str, Any]], *, final: bool) -> None:
        """A parent's phase and progress from its children's, as Argo sums them."""
        phases = [Phase(c["phase"]) for c in children]
        last = phases[-1]
        # A failed attempt with retries left means the Retry node waits for its backoff.
        waiting = last in _ACTIVE or (last in _FAILED and not final)
        if node["type"] == "Retry":
            phase = Phase.RUNNING if waiting else last
        elif any(p in _ACTIVE for p in phases):
            phase = Phase.RUNNING
        elif all(p is Phase.SUCCEEDED for p in phases):
            phase = Phase.SUCCEEDED
        else:
            phase = next((p for p in phases if p in _FAILED), last)
        node["phase"] = phase.value
        node["progress"] = _sum_progress(children)
        if phase in _FAILED and children[-1].get("message"):
            node["message"] = children[-1]["message"]
        if phase.done:
            ends = [c["finishedAt"] for c in children if c.get("finishedAt")]
            if ends:
                node["finishedAt"] = max(ends)


def workflow_status(view: RunView) -> dict[str, Any]:
    """The ``status`` of a simulated Workflow in Argo's shape."""
    return _Builder(view).build()
