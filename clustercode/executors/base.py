"""The interface every executor shares: submit a Workflow manifest, watch it, cancel it, list runs.

Executors speak Argo's vocabulary (workflow and node phases, ``N/M`` progress) so the control
service treats the local executor and Argo alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class Phase(StrEnum):
    """Argo's node and workflow phases."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"

    @property
    def done(self) -> bool:
        """Whether the phase is final."""
        return self not in (Phase.PENDING, Phase.RUNNING)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEvent:
    """A DAG task (one attempt of one item of one template) changed phase or progress.

    Attributes:
        run_id: the workflow's name.
        node_id: unique within the run; stable across events of the same node.
        task: the DAG task name (``split``, ``encode``, ...).
        template: the template the task runs.
        parameters: the task's resolved input parameters (for a fan-out, the item's fields).
        phase: the node's phase.
        attempt: 0 for the first try, 1 for the first retry, ...
        progress: frames done and total as reported through ``ARGO_PROGRESS_FILE``.
        message: why a node failed, or empty.
        outputs: output parameters once the node succeeded.
        exit_code: the step's exit status once it ended, ``None`` if unknown (it
            tells an environment failure, ``pipelines.contract.EXIT_ENVIRONMENT``, apart).
    """

    run_id: str
    node_id: str
    task: str
    template: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    phase: Phase
    attempt: int = 0
    progress: tuple[int, int] | None = None
    message: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    exit_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvent:
    """The workflow as a whole changed phase; a final phase is the last event of a watch."""

    run_id: str
    phase: Phase
    message: str = ""


ExecEvent = NodeEvent | RunEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """A workflow the executor knows, as listed for reconciliation."""

    run_id: str
    phase: Phase
    labels: Mapping[str, str] = field(default_factory=dict)
    message: str = ""


@runtime_checkable
class Executor(Protocol):
    """Runs transcode Workflows."""

    name: str

    async def submit(self, manifest: Mapping[str, Any]) -> str:
        """Start the Workflow; return its run id (the workflow name). Idempotent per name."""
        ...

    def watch(self, run_id: str) -> AsyncIterator[ExecEvent]:
        """Yield events of the run, ending after the final :class:`RunEvent`."""
        ...

    async def cancel(self, run_id: str) -> None:
        """Stop the run: kill running steps, run ``onExit``; no-op when already finished."""
        ...

    async def list_runs(self, labels: Mapping[str, str]) -> list[RunInfo]:
        """Runs whose labels include ``labels``."""
        ...

    async def check(self) -> str:
        """Return ``""`` when healthy, else a message saying what is wrong."""
        ...

    async def close(self) -> None:
        """Release resources; running local work is cancelled."""
        ...
