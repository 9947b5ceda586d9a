"""Small hand-written Workflow manifests whose containers are real Python processes, and the
helpers that run them on the LocalExecutor and read what happened."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clustercode.executors import NodeEvent, RunEvent
from clustercode.executors.local import LocalExecutor


def step(name: str, code: str, *args: str, **fields: Any) -> dict[str, Any]:
    """A container template running ``code`` with ``args`` in this interpreter."""
    container = {"image": "unused", "command": [sys.executable, "-c", textwrap.dedent(code)]}
    if args:
        container["args"] = list(args)
    container.update(fields.pop("container", {}))
    return {"name": name, "container": container, **fields}


def workflow(
    name: str, tasks: list[dict[str, Any]], *templates: dict[str, Any], **spec: Any
) -> dict[str, Any]:
    """A Workflow whose entrypoint DAG ``main`` has ``tasks``."""
    dag: dict[str, Any] = {"name": "main", "dag": {"tasks": tasks}}
    dag.update(spec.pop("dag_fields", {}))
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "labels": spec.pop("labels", {"suite": "local"})},
        "spec": {"entrypoint": "main", "templates": [*templates, dag], **spec},
    }


APPEND = """
    import sys
    with open(sys.argv[1], "a") as f:
        f.write(" ".join(sys.argv[2:]) + "\\n")
"""

# Records start and end times so tests can measure how many ran at once.
INTERVAL = """
    import sys, time
    start = time.time()
    time.sleep(float(sys.argv[2]))
    with open(sys.argv[1], "a") as f:
        f.write(f"{start} {time.time()}\\n")
"""

PRODUCE = """
    import sys
    open(sys.argv[1], "w").write("from-a\\n")
    open(sys.argv[2], "a").write("a\\n")
"""

SLEEPER = """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(sys.argv[1], "w") as f:
        f.write(str(child.pid))
    time.sleep(60)
"""


async def run_to_end(ex: LocalExecutor, doc: dict[str, Any]) -> tuple[list[NodeEvent], RunEvent]:
    """Submit ``doc`` and collect every event until the final RunEvent."""
    run_id = await ex.submit(doc)
    nodes: list[NodeEvent] = []
    async for event in ex.watch(run_id):
        if isinstance(event, NodeEvent):
            nodes.append(event)
        elif event.phase.done:
            return nodes, event
    raise AssertionError("watch ended without a final RunEvent")


def final(nodes: list[NodeEvent]) -> dict[str, NodeEvent]:
    """The last event of every node."""
    return {e.node_id: e for e in nodes}


def max_overlap(log: Path) -> int:
    """Most intervals (one per line: start end) that were open at the same time."""
    edges = []
    for line in log.read_text().splitlines():
        start, end = map(float, line.split())
        edges += [(start, 1), (end, -1)]
    current = best = 0
    for _, delta in sorted(edges, key=lambda e: (e[0], e[1])):
        current += delta
        best = max(best, current)
    return best


def gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
