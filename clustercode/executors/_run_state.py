"""The observable state of one local run: its phase, every node's latest event, its watchers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Any

from clustercode.executors.base import ExecEvent, NodeEvent, Phase, RunEvent, RunInfo


class RunState:
    """Latest event per node plus live fan-out to watchers.

    A watcher first receives the current state (the run's phase, then every node's latest event;
    for a finished run the nodes come first and the final :class:`RunEvent` last), then live
    events until the final :class:`RunEvent`.
    """

    def __init__(self, run_id: str, labels: Mapping[str, str]) -> None:
        self.run_id = run_id
        self.labels = dict(labels)
        self.phase = Phase.PENDING
        self.message = ""
        self._nodes: dict[str, NodeEvent] = {}
        self._watchers: list[asyncio.Queue[ExecEvent]] = []
        self.finished = asyncio.Event()

    @property
    def nodes(self) -> Mapping[str, NodeEvent]:
        """Every node's latest event, in the order the nodes appeared."""
        return self._nodes

    def node(self, node_id: str) -> NodeEvent | None:
        """The latest event of ``node_id``."""
        return self._nodes.get(node_id)

    def info(self) -> RunInfo:
        """The run as listed for reconciliation."""
        return RunInfo(
            run_id=self.run_id, phase=self.phase, labels=self.labels, message=self.message
        )

    def publish_node(self, previous: NodeEvent, **changes: Any) -> None:
        """Record ``previous`` with ``changes`` applied and send it to every watcher."""
        event = dataclasses.replace(previous, **changes)
        if self._nodes.get(event.node_id) == event:
            return
        self._nodes[event.node_id] = event
        self._send(event)

    def set_phase(self, phase: Phase, message: str = "") -> None:
        """Record the run's phase; a final phase ends every watch."""
        if self.phase.done:
            return
        self.phase = phase
        self.message = message
        self._send(RunEvent(run_id=self.run_id, phase=phase, message=message))
        if phase.done:
            self.finished.set()

    def _send(self, event: ExecEvent) -> None:
        for queue in self._watchers:
            queue.put_nowait(event)

    async def watch(self) -> AsyncIterator[ExecEvent]:
        """Yield the current state, then live events, ending after the final RunEvent."""
        run_event = RunEvent(run_id=self.run_id, phase=self.phase, message=self.message)
        if self.phase.done:
            for node in list(self._nodes.values()):
                yield node
            yield run_event
            return
        # Snapshot and subscription happen without an await between them: nothing is missed.
        queue: asyncio.Queue[ExecEvent] = asyncio.Queue()
        snapshot: list[ExecEvent] = [run_event, *self._nodes.values()]
        self._watchers.append(queue)
        try:
            for event in snapshot:
                yield event
            while True:
                live = await queue.get()
                yield live
                if isinstance(live, RunEvent) and live.phase.done:
                    return
        finally:
            self._watchers.remove(queue)
