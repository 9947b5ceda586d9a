"""Read an Argo Workflow's status as executor events.

Argo keeps one node per DAG task. A task whose template has a ``retryStrategy`` is a ``Retry``
node whose children are the attempts, ``Pod`` nodes named ``<retry node>(0)``, ``(1)``, ...; a
``withParam`` fan-out is a ``TaskGroup`` whose children are one node per item, displayed as
``encode(3:frames:48,index:3,...)``. Each attempt of each item becomes one
:class:`~clustercode.executors.base.NodeEvent`; its item fields come from the node's input
parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hera.workflows.models import NodeStatus, Parameter, Workflow

from clustercode.executors.base import NodeEvent, Phase, RunInfo

_PROGRESS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_ITEM = re.compile(r"^[^(]*\((\d+):")
# Leaf nodes that stand for one attempt of one task (or a task that never ran).
_ATTEMPT_TYPES = {"Pod", "Container", "Skipped", "Suspend", "HTTP", "Plugin"}
_GROUP_TYPES = {"Retry", "TaskGroup"}
_LAST = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """One reading of a Workflow: its phase and every attempt's event in DAG order."""

    phase: Phase
    message: str
    nodes: tuple[NodeEvent, ...]


def phase_of(text: str | None) -> Phase:
    """Argo's phase string as a :class:`Phase`; an empty or unknown phase is Pending."""
    try:
        return Phase(text or "Pending")
    except ValueError:
        return Phase.PENDING


def parse_progress(text: str | None) -> tuple[int, int] | None:
    """``"N/M"`` as ``(N, M)``.

    ``"0/1"`` is ``None``: Argo gives every pod that progress until it reports its own, so it
    says nothing about frames.
    """
    match = _PROGRESS.match(text or "")
    if match is None:
        return None
    done, total = int(match.group(1)), int(match.group(2))
    if (done, total) == (0, 1):
        return None
    return done, total


def task_name(display_name: str) -> str:
    """The DAG task of a node: ``encode(3:index:3)(1)`` -> ``encode``."""
    return display_name.split("(", 1)[0]


def _parameters(parameters: Iterable[Parameter] | None) -> dict[str, str]:
    return {p.name: p.value or "" for p in parameters or ()}


def _task_order(workflow: Workflow) -> dict[str, int]:
    """DAG tasks in the order the entrypoint lists them; the exit handler last."""
    spec = workflow.spec
    order: dict[str, int] = {}
    for template in spec.templates or ():
        if template.name == spec.entrypoint and template.dag is not None:
            order = {task.name: i for i, task in enumerate(template.dag.tasks)}
    order["onExit"] = _LAST
    return order


def run_info(workflow: Workflow) -> RunInfo:
    """The Workflow as listed for reconciliation."""
    status = workflow.status
    return RunInfo(
        run_id=workflow.metadata.name or "",
        phase=phase_of(status.phase if status else None),
        labels=dict(workflow.metadata.labels or {}),
        message=(status.message if status else None) or "",
    )


def snapshot(workflow: Workflow) -> Snapshot:
    """Read the Workflow's phase, message and one event per attempt of every task."""
    name = workflow.metadata.name or ""
    status = workflow.status
    nodes: Mapping[str, NodeStatus] = (status.nodes if status else None) or {}
    parents: dict[str, NodeStatus] = {}
    for node in nodes.values():
        for child in node.children or ():
            parents[child] = node
    order = _task_order(workflow)
    keyed: list[tuple[tuple[int, int, int, str], NodeEvent]] = []
    for node in nodes.values():
        if not _is_attempt(node):
            continue
        display = node.display_name or node.name.removeprefix(f"{name}.")
        task = task_name(display)
        parent = parents.get(node.id)
        attempt = _attempt(node, parent, nodes)
        parameters = _parameters(node.inputs.parameters if node.inputs else None)
        if not parameters and parent is not None and parent.type == "Retry" and parent.inputs:
            parameters = _parameters(parent.inputs.parameters)
        event = NodeEvent(
            run_id=name,
            node_id=node.id,
            task=task,
            template=node.template_name or "",
            parameters=parameters,
            phase=phase_of(node.phase),
            attempt=attempt,
            progress=parse_progress(node.progress),
            message=node.message or "",
            outputs=_parameters(node.outputs.parameters if node.outputs else None),
            exit_code=_exit_code(node.outputs.exit_code if node.outputs else None),
        )
        item = _ITEM.match(display)
        key = (order.get(task, _LAST - 1), int(item.group(1)) if item else -1, attempt, node.name)
        keyed.append((key, event))
    keyed.sort(key=lambda pair: pair[0])
    return Snapshot(
        phase=phase_of(status.phase if status else None),
        message=(status.message if status else None) or "",
        nodes=tuple(event for _, event in keyed),
    )


def _is_attempt(node: NodeStatus) -> bool:
    if node.type in _ATTEMPT_TYPES:
        return True
    # A retry node or fan-out that failed before any pod existed (a bad withParam, say)
    # carries the only message about it.
    return node.type in _GROUP_TYPES and not node.children and phase_of(node.phase).done


def _attempt(node: NodeStatus, parent: NodeStatus | None, nodes: Mapping[str, NodeStatus]) -> int:
    """The position of ``node`` among its Retry node's attempts (lifecycle hooks excluded)."""
    if parent is None or parent.type != "Retry":
        return 0
    attempts = [child for child in parent.children or () if not _hooked(nodes.get(child))]
    return attempts.index(node.id) if node.id in attempts else 0


def _hooked(node: NodeStatus | None) -> bool:
    return node is not None and node.node_flag is not None and bool(node.node_flag.hooked)


def _exit_code(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
