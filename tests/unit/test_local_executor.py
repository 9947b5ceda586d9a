"""LocalExecutor on small hand-written manifests whose containers are real Python processes."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, RootModel

from clustercode.errors import ExecutorError, ManifestError, NotFoundError
from clustercode.executors import Executor, NodeEvent, Phase, RunEvent
from clustercode.executors._manifest import parse_manifest
from clustercode.executors._manifest_policy import FIELDS
from clustercode.executors.local import LocalExecutor
from pipelines.workflow import manifest
from tests.pipelines.variants import variants

pytestmark = pytest.mark.timeout(60)


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


@pytest.fixture
async def executor() -> AsyncIterator[LocalExecutor]:
    ex = LocalExecutor(max_parallel=4, kill_grace=0.5, poll_interval=0.05)
    yield ex
    await ex.close()


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


def test_local_executor_is_an_executor() -> None:
    assert isinstance(LocalExecutor(), Executor)
    assert LocalExecutor().name == "local"


async def test_dag_order_parameters_and_outputs(executor: LocalExecutor, tmp_path: Path) -> None:
    log = tmp_path / "log"
    out = tmp_path / "out.json"
    doc = workflow(
        "order",
        [
            {"name": "a", "template": "produce"},
            {
                "name": "b",
                "template": "append",
                "depends": "a",
                "arguments": {
                    "parameters": [{"name": "v", "value": "{{tasks.a.outputs.parameters.x}}"}]
                },
            },
            {
                "name": "c",
                "template": "append",
                "dependencies": ["a", "b"],
                "arguments": {"parameters": [{"name": "v", "value": "c"}]},
            },
        ],
        step(
            "produce",
            PRODUCE,
            str(out),
            str(log),
            outputs={"parameters": [{"name": "x", "valueFrom": {"path": str(out)}}]},
        ),
        step(
            "append",
            APPEND,
            str(log),
            "{{inputs.parameters.v}}",
            "{{workflow.parameters.greeting}}",
            "{{workflow.name}}",
            inputs={"parameters": [{"name": "v"}]},
        ),
        arguments={"parameters": [{"name": "greeting", "value": "hi there"}]},
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.SUCCEEDED, run.message
    assert log.read_text().splitlines() == ["a", "from-a hi there order", "c hi there order"]
    last = final(nodes)
    assert sorted(last) == ["a(0)", "b(0)", "c(0)"]
    assert last["a(0)"].outputs == {"x": "from-a"}
    assert last["b(0)"].parameters == {"v": "from-a"}
    assert [e.phase for e in nodes if e.node_id == "b(0)"][:2] == [Phase.PENDING, Phase.RUNNING]


async def test_fan_out_over_with_param_objects_and_with_items(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    items = tmp_path / "items.json"
    log = tmp_path / "log"
    plan = [{"index": i, "frames": 10 * i} for i in range(5)]
    doc = workflow(
        "fanout",
        [
            {"name": "plan", "template": "plan"},
            {
                "name": "each",
                "template": "append",
                "depends": "plan.Succeeded",
                "withParam": "{{tasks.plan.outputs.parameters.slices}}",
                "arguments": {
                    "parameters": [{"name": "v", "value": "{{item.index}}:{{item.frames}}"}]
                },
            },
            {
                "name": "words",
                "template": "append",
                "depends": "each",
                "withItems": ["x", 7, {"k": 1}],
                "arguments": {"parameters": [{"name": "v", "value": "item={{item}}"}]},
            },
        ],
        step(
            "plan",
            f"import sys; open(sys.argv[1], 'w').write({json.dumps(json.dumps(plan))})",
            str(items),
            outputs={"parameters": [{"name": "slices", "valueFrom": {"path": str(items)}}]},
        ),
        step(
            "append",
            APPEND,
            str(log),
            "{{inputs.parameters.v}}",
            inputs={"parameters": [{"name": "v"}]},
        ),
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.SUCCEEDED, run.message
    lines = log.read_text().splitlines()
    assert sorted(lines[:5]) == [f"{i}:{10 * i}" for i in range(5)]
    assert sorted(lines[5:]) == sorted(["item=x", "item=7", 'item={"k":1}'])
    last = final(nodes)
    assert {last[f"each({i})(0)"].parameters["v"] for i in range(5)} == {
        f"{i}:{10 * i}" for i in range(5)
    }
    assert all(e.task == "each" for k, e in last.items() if k.startswith("each("))


async def test_retry_after_the_process_kills_itself(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "first-attempt"
    log = tmp_path / "log"
    code = """
        import os, signal, sys
        if not os.path.exists(sys.argv[1]):
            open(sys.argv[1], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        open(sys.argv[2], "a").write("retries=" + sys.argv[3] + "\\n")
    """
    retry = {"limit": 2, "retryPolicy": "Always", "backoff": {"duration": "50ms", "factor": 2}}
    doc = workflow(
        "retry",
        [{"name": "flaky", "template": "flaky"}],
        step("flaky", code, str(marker), str(log), "{{retries}}", retryStrategy=retry),
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.SUCCEEDED, run.message
    last = final(nodes)
    assert last["flaky(0)"].phase is Phase.FAILED
    assert last["flaky(0)"].message == "killed by SIGKILL"
    assert last["flaky(1)"].phase is Phase.SUCCEEDED
    assert last["flaky(1)"].attempt == 1
    assert log.read_text() == "retries=1\n"


async def test_retries_exhausted_fail_with_the_last_stderr_line(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    exit_log = tmp_path / "exit"
    code = """
        import sys
        print("some progress", file=sys.stderr)
        print("clustercode-step encode: slice 2: decode error at 00:01.20", file=sys.stderr)
        sys.exit(3)
    """
    retry = {"limit": "2", "retryPolicy": "Always", "backoff": {"duration": "200ms", "factor": 2}}
    doc = workflow(
        "exhausted",
        [
            {"name": "bad", "template": "bad"},
            {"name": "after", "template": "never", "depends": "bad"},
        ],
        step("bad", code, retryStrategy=retry),
        step("never", "raise SystemExit(0)"),
        step("exit", APPEND, str(exit_log), "{{workflow.status}}"),
        onExit="exit",
    )
    start = time.monotonic()
    nodes, run = await run_to_end(executor, doc)
    elapsed = time.monotonic() - start
    reason = "clustercode-step encode: slice 2: decode error at 00:01.20"
    assert run.phase is Phase.FAILED
    assert run.message == f"bad failed after 3 attempts: {reason}"
    last = final(nodes)
    assert [last[f"bad({i})"].phase for i in range(3)] == [Phase.FAILED] * 3
    assert last["bad(2)"].message == reason
    assert "after(0)" not in last
    assert exit_log.read_text() == "Failed\n"
    # Backoff: 200 ms before the first retry, 400 ms before the second.
    assert elapsed >= 0.6
    pending = [e for e in nodes if e.node_id == "bad(1)" and e.phase is Phase.PENDING]
    assert pending[0].message.startswith("retry 1 of 2 after 0.2 s:")


async def test_parallelism_of_dag_workflow_and_executor(tmp_path: Path) -> None:
    log = tmp_path / "intervals"
    template = step("interval", INTERVAL, str(log), "0.5")

    def doc(name: str, items: int, **spec: Any) -> dict[str, Any]:
        tasks = [{"name": "many", "template": "interval", "withItems": list(range(items))}]
        return workflow(name, tasks, template, **spec)

    async def overlap(docs: list[dict[str, Any]], max_parallel: int = 4) -> int:
        ex = LocalExecutor(max_parallel=max_parallel, poll_interval=0.05)
        try:
            ids = [await ex.submit(d) for d in docs]
            ends = [await ex.wait(i) for i in ids]
            assert all(e.phase is Phase.SUCCEEDED for e in ends), ends
        finally:
            await ex.close()
        count = max_overlap(log)
        assert len(log.read_text().splitlines()) == sum(
            len(d["spec"]["templates"][-1]["dag"]["tasks"][0]["withItems"]) for d in docs
        )
        log.unlink()
        return count

    assert await overlap([doc("dag", 4, dag_fields={"parallelism": 2})]) == 2
    assert await overlap([doc("workflow", 3, parallelism=1)]) == 1
    # The executor's limit holds across runs: two workflows, one slot.
    assert await overlap([doc("one", 2), doc("two", 2)], max_parallel=1) == 1
    assert await overlap([doc("three", 3)], max_parallel=3) == 3


async def test_fail_fast_stops_scheduling_fan_out_items(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    code = """
        import sys
        open(sys.argv[1], "a").write(sys.argv[2] + "\\n")
        sys.exit(1 if sys.argv[2] == "0" else 0)
    """
    doc = workflow(
        "failfast",
        [
            {
                "name": "each",
                "template": "item",
                "withItems": [0, 1, 2, 3],
                "arguments": {"parameters": [{"name": "i", "value": "{{item}}"}]},
            }
        ],
        step(
            "item",
            code,
            str(log),
            "{{inputs.parameters.i}}",
            inputs={"parameters": [{"name": "i"}]},
        ),
        dag_fields={"parallelism": 1},
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.FAILED
    assert log.read_text() == "0\n"
    last = final(nodes)
    assert last["each(0)(0)"].phase is Phase.FAILED
    assert [last[f"each({i})(0)"].phase for i in (1, 2, 3)] == [Phase.OMITTED] * 3


async def test_cancel_kills_the_process_group_and_runs_on_exit(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    child_file = tmp_path / "child"
    exit_log = tmp_path / "exit"
    doc = workflow(
        "cancel",
        [
            {"name": "long", "template": "long"},
            {"name": "next", "template": "long", "depends": "long"},
        ],
        step("long", SLEEPER, str(child_file)),
        step("exit", APPEND, str(exit_log), "{{workflow.status}}"),
        onExit="exit",
    )
    run_id = await executor.submit(doc)
    await until(lambda: child_file.exists() and child_file.read_text() != "")
    pids = executor.running_pids(run_id)
    assert list(pids) == ["long(0)"]
    child = int(child_file.read_text())
    await executor.cancel(run_id)
    end = await executor.wait(run_id)
    assert end == RunEvent(run_id="cancel", phase=Phase.FAILED, message="cancelled")
    assert gone(pids["long(0)"])
    await until(lambda: gone(child), within=5)
    assert exit_log.read_text() == "Failed\n"
    events = [e async for e in executor.watch(run_id)]
    nodes = final([e for e in events if isinstance(e, NodeEvent)])
    assert nodes["long(0)"].phase is Phase.FAILED
    assert nodes["long(0)"].message == "cancelled"
    assert "next(0)" not in nodes
    assert nodes["onExit(0)"].phase is Phase.SUCCEEDED
    assert events[-1] == end
    await executor.cancel(run_id)  # finished: a no-op


async def test_cancel_kills_a_process_that_ignores_sigterm(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    code = """
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[1], "w").close()
        time.sleep(60)
    """
    run_id = await executor.submit(
        workflow("stubborn", [{"name": "s", "template": "s"}], step("s", code, str(ready)))
    )
    await until(ready.exists)
    pid = executor.running_pids(run_id)["s(0)"]
    start = time.monotonic()
    await executor.cancel(run_id)
    end = await executor.wait(run_id)
    assert time.monotonic() - start >= 0.5  # the grace period before SIGKILL
    assert end.phase is Phase.FAILED
    assert gone(pid)


async def test_progress_file_becomes_progress_events(executor: LocalExecutor) -> None:
    code = """
        import os, time
        for done in range(1, 5):
            with open(os.environ["ARGO_PROGRESS_FILE"], "w") as f:
                f.write(f"{done}/4")
            time.sleep(0.25)
    """
    nodes, run = await run_to_end(
        executor, workflow("progress", [{"name": "p", "template": "p"}], step("p", code))
    )
    assert run.phase is Phase.SUCCEEDED
    seen = [e.progress for e in nodes if e.progress is not None]
    assert seen[-1] == (4, 4)
    assert len(set(seen)) >= 3
    assert seen == sorted(seen)
    assert final(nodes)["p(0)"].progress == (4, 4)


async def test_workflow_deadline_stops_the_run(executor: LocalExecutor, tmp_path: Path) -> None:
    doc = workflow(
        "deadline",
        [{"name": "long", "template": "long"}],
        step("long", SLEEPER, str(tmp_path / "child")),
        activeDeadlineSeconds=1,
    )
    start = time.monotonic()
    _nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.FAILED
    assert run.message == "workflow exceeded activeDeadlineSeconds (1 s)"
    assert time.monotonic() - start < 10


async def test_late_watchers_get_the_current_state_first(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    code = "import sys, time; open(sys.argv[1], 'w').close(); time.sleep(0.5)"
    doc = workflow(
        "late",
        [{"name": "q", "template": "quick"}, {"name": "s", "template": "slow", "depends": "q"}],
        step("quick", "pass"),
        step("slow", code, str(ready)),
    )
    run_id = await executor.submit(doc)
    await until(ready.exists)
    stream = executor.watch(run_id)
    first = [await anext(stream) for _ in range(3)]
    assert first[0] == RunEvent(run_id="late", phase=Phase.RUNNING)
    assert isinstance(first[1], NodeEvent) and (first[1].node_id, first[1].phase) == (
        "q(0)",
        Phase.SUCCEEDED,
    )
    assert isinstance(first[2], NodeEvent) and (first[2].node_id, first[2].phase) == (
        "s(0)",
        Phase.RUNNING,
    )
    rest = [e async for e in stream]
    assert rest[-1] == RunEvent(run_id="late", phase=Phase.SUCCEEDED)
    after = [e async for e in executor.watch(run_id)]
    assert [(e.node_id, e.phase) for e in after if isinstance(e, NodeEvent)] == [
        ("q(0)", Phase.SUCCEEDED),
        ("s(0)", Phase.SUCCEEDED),
    ]
    assert after[-1] == rest[-1]


async def test_submit_is_idempotent_and_runs_are_listed(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    doc = workflow(
        "once",
        [{"name": "a", "template": "a"}],
        step("a", APPEND, str(log), "ran"),
        labels={"clustercode.io/job-id": "j1", "team": "x"},
    )
    assert await executor.submit(doc) == "once"
    assert await executor.submit(doc) == "once"
    await executor.wait("once")
    assert log.read_text() == "ran\n"
    runs = await executor.list_runs({"clustercode.io/job-id": "j1"})
    assert [(r.run_id, r.phase) for r in runs] == [("once", Phase.SUCCEEDED)]
    assert await executor.list_runs({"clustercode.io/job-id": "j2"}) == []
    assert await executor.check() == ""
    with pytest.raises(NotFoundError):
        await executor.cancel("nope")
    with pytest.raises(NotFoundError):
        [e async for e in executor.watch("nope")]


async def test_close_cancels_running_work(tmp_path: Path) -> None:
    ex = LocalExecutor(kill_grace=0.5)
    child_file = tmp_path / "child"
    run_id = await ex.submit(
        workflow("closing", [{"name": "l", "template": "l"}], step("l", SLEEPER, str(child_file)))
    )
    await until(lambda: child_file.exists() and child_file.read_text() != "")
    await ex.close()
    assert (await ex.wait(run_id)).message == "cancelled"
    assert await ex.check() == "the local executor is closed"
    with pytest.raises(ExecutorError, match="closed"):
        await ex.submit(workflow("later", [{"name": "l", "template": "l"}], step("l", "pass")))


@pytest.mark.parametrize(
    ("problem", "setup"),
    [
        (
            "output parameter x: cannot read",
            lambda p: {
                "outputs": {
                    "parameters": [{"name": "x", "valueFrom": {"path": str(p / "missing")}}]
                }
            },
        ),
        (
            "cannot run /nonexistent/tool",
            lambda p: {"container": {"command": ["/nonexistent/tool"]}},
        ),
    ],
    ids=["missing-output-file", "missing-command"],
)
async def test_step_errors_end_the_run_with_the_reason(
    executor: LocalExecutor, tmp_path: Path, problem: str, setup: Callable[[Path], dict[str, Any]]
) -> None:
    nodes, run = await run_to_end(
        executor,
        workflow("err", [{"name": "e", "template": "e"}], step("e", "pass", **setup(tmp_path))),
    )
    assert run.phase is Phase.ERROR
    assert problem in run.message
    assert final(nodes)["e(0)"].phase is Phase.ERROR


async def test_with_param_that_is_not_a_list_is_an_error(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    doc = workflow(
        "notalist",
        [
            {"name": "a", "template": "a"},
            {
                "name": "b",
                "template": "a",
                "depends": "a",
                "withParam": "{{tasks.a.outputs.parameters.x}}",
            },
        ],
        step(
            "a",
            "import sys; open(sys.argv[1], 'w').write('{\"not\": 1}')",
            str(out),
            outputs={"parameters": [{"name": "x", "valueFrom": {"path": str(out)}}]},
        ),
    )
    _nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.ERROR
    assert run.message.startswith("task b: withParam is not a JSON list")


def _broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = workflow(
        "broken",
        [
            {"name": "a", "template": "a"},
            {
                "name": "b",
                "template": "b",
                "depends": "a",
                "arguments": {"parameters": [{"name": "v", "value": "x"}]},
            },
        ],
        step("a", "pass"),
        step("b", "pass", "{{inputs.parameters.v}}", inputs={"parameters": [{"name": "v"}]}),
    )
    change(doc)
    return doc


def _template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def _moved_mount(doc: dict[str, Any]) -> None:
    doc["spec"]["volumes"] = [{"name": "v", "hostPath": {"path": "/srv"}}]
    _template(doc, "a")["container"]["volumeMounts"] = [{"name": "v", "mountPath": "/data"}]


UNSUPPORTED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "script": (
        lambda d: d["spec"]["templates"].append(
            {"name": "s", "script": {"image": "x", "source": "x"}}
        ),
        "spec.templates[3] (s).script",
    ),
    "steps": (
        lambda d: d["spec"]["templates"].append({"name": "s", "steps": []}),
        "spec.templates[3] (s).steps",
    ),
    "resource": (
        lambda d: d["spec"]["templates"].append({"name": "r", "resource": {}}),
        "spec.templates[3] (r).resource",
    ),
    "when": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][0].update(when="1 == 1"),
        "spec.templates[2] (main).dag.tasks[0].when",
    ),
    "continueOn": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][1].update(continueOn={"failed": True}),
        "dag.tasks[1].continueOn",
    ),
    "sidecars": (
        lambda d: _template(d, "a").update(sidecars=[{"name": "x"}]),
        "spec.templates[0] (a).sidecars",
    ),
    "initContainers": (lambda d: _template(d, "a").update(initContainers=[]), "(a).initContainers"),
    "output-artifacts": (
        lambda d: _template(d, "a").update(outputs={"artifacts": []}),
        "(a).outputs.artifacts",
    ),
    "input-artifacts": (
        lambda d: _template(d, "b").update(inputs={"artifacts": []}),
        "(b).inputs.artifacts",
    ),
    "unknown-variable": (
        lambda d: _template(d, "a")["container"].update(args=["{{pod.name}}"]),
        "unknown variable {{pod.name}}",
    ),
    "expression": (
        lambda d: _template(d, "a")["container"].update(args=["{{=sprig.upper('x')}}"]),
        "expression {{=sprig.upper('x')}}",
    ),
    "future-task-output": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][0].update(
            withParam="{{tasks.b.outputs.parameters.x}}"
        ),
        "unknown variable {{tasks.b.outputs.parameters.x}}",
    ),
    "depends-or": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][1].update(depends="a || a"),
        "dag.tasks[1].depends 'a || a'",
    ),
    "pvc-volume": (
        lambda d: d["spec"].update(
            volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]
        ),
        "spec.volumes[0].persistentVolumeClaim",
    ),
    "moved-mount": (_moved_mount, "(a).container.volumeMounts[0]"),
    "env-from-secret": (
        lambda d: _template(d, "a")["container"].update(
            env=[{"name": "X", "valueFrom": {"secretKeyRef": {}}}]
        ),
        "(a).container.env[0].valueFrom",
    ),
    "transient-retry": (
        lambda d: _template(d, "a").update(retryStrategy={"retryPolicy": "OnTransientError"}),
        "retryStrategy.retryPolicy 'OnTransientError'",
    ),
    "retry-expression": (
        lambda d: _template(d, "a").update(retryStrategy={"expression": "true"}),
        "(a).retryStrategy.expression",
    ),
    "generate-name": (lambda d: d["metadata"].update(generateName="x-"), "metadata.generateName"),
    "kind": (lambda d: d.update(kind="CronWorkflow"), "kind: expected 'Workflow'"),
    "template-defaults": (lambda d: d["spec"].update(templateDefaults={}), "spec.templateDefaults"),
    "cycle": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][0].update(depends="b"),
        "dependency cycle",
    ),
    "missing-template": (
        lambda d: d["spec"].update(onExit="nope"),
        "spec.onExit: no template named 'nope'",
    ),
    "missing-input": (
        lambda d: d["spec"]["templates"][2]["dag"]["tasks"][1].pop("arguments"),
        "input 'v' of 'b' has no value",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
async def test_unsupported_manifest_fields_are_refused(executor: LocalExecutor, case: str) -> None:
    change, fragment = UNSUPPORTED[case]
    doc = _broken(change)
    with pytest.raises(ManifestError) as info:
        await executor.submit(doc)
    assert fragment in str(info.value)
    assert await executor.list_runs({}) == []


def test_the_builders_manifests_are_accepted_and_cluster_volumes_refused() -> None:
    for name, spec in variants().items():
        if name == "volumes":
            with pytest.raises(ManifestError, match=r"spec\.volumes\[0\]\.persistentVolumeClaim"):
                parse_manifest(manifest(spec))
        else:
            plan = parse_manifest(manifest(spec))
            assert plan.entrypoint == "main"
            assert plan.on_exit == "cleanup"


INVALID: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown-field": (
        lambda d: d["spec"]["templates"][2].update(foo=1),
        "manifest field spec.templates[2] (main).foo is not supported by the local executor",
    ),
    "python-name": (
        lambda d: d["spec"].update(active_deadline_seconds=3),
        "manifest field spec.active_deadline_seconds is not supported by the local executor",
    ),
    "wrong-type": (
        lambda d: _template(d, "a")["container"].update(command=["x", 1]),
        "manifest field spec.templates[0] (a).container.command[1]: expected a string",
    ),
    "int-or-string": (
        lambda d: _template(d, "a").update(retryStrategy={"limit": [1]}),
        "manifest field spec.templates[0] (a).retryStrategy.limit: expected a string or an integer",
    ),
    "missing": (lambda d: d.pop("metadata"), "manifest field metadata: required"),
    "not-an-object": (
        lambda d: d["spec"]["templates"].append([]),
        "manifest field spec.templates[3]: expected an object",
    ),
    "refused-and-invalid": (
        lambda d: d["spec"]["templates"].append({"name": "r", "resource": {"action": 1}}),
        "manifest field spec.templates[3] (r).resource is not supported by the local executor "
        "(templates must be container or dag)",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_manifests_name_the_field_in_one_line(case: str) -> None:
    change, message = INVALID[case]
    with pytest.raises(ManifestError) as info:
        parse_manifest(_broken(change))
    assert str(info.value) == message


def test_kubernetes_only_fields_are_not_validated() -> None:
    """Kubernetes reads them, not the local executor: numbers where hera's models want strings
    and keys newer than the models are no error."""

    def k8s(doc: dict[str, Any]) -> None:
        _template(doc, "a")["container"].update(
            resources={"limits": {"cpu": 2, "memory": 1}}, securityContext={"newerKey": True}
        )
        doc["spec"]["podGC"] = {"strategy": "OnPodSuccess", "newerKey": 1}

    plan = parse_manifest(_broken(k8s))
    assert plan == parse_manifest(_broken(lambda _: None))


def _models(annotation: Any) -> set[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return set() if issubclass(annotation, RootModel) else {annotation}
    return set().union(*(_models(a) for a in get_args(annotation)))


def test_the_field_policy_covers_what_it_reads() -> None:
    """Every name in the policy is a field of its model (by its Argo name), and every model
    behind a supported field has a policy of its own."""
    for model, (supported, ignored) in FIELDS.items():
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        assert supported | ignored <= fields.keys(), model.__name__
        for name in supported:
            assert _models(fields[name].annotation) <= FIELDS.keys(), f"{model.__name__}.{name}"


async def test_kubernetes_only_fields_are_ignored(executor: LocalExecutor, tmp_path: Path) -> None:
    log = tmp_path / "log"
    template = step(
        "a",
        APPEND,
        str(log),
        "ok",
        nodeSelector={"kubernetes.io/arch": "amd64"},
        container={"resources": {"requests": {"cpu": "1"}}, "imagePullPolicy": "Always"},
    )
    doc = workflow(
        "k8s",
        [{"name": "a", "template": "a"}],
        template,
        serviceAccountName="sa",
        podGC={"strategy": "OnPodSuccess"},
        ttlStrategy={"secondsAfterCompletion": 5},
        tolerations=[{"key": "k", "operator": "Exists"}],
    )
    _nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.SUCCEEDED
    assert log.read_text() == "ok\n"


async def test_exit_handler_sees_success(executor: LocalExecutor, tmp_path: Path) -> None:
    exit_log = tmp_path / "exit"
    doc = workflow(
        "ok",
        [{"name": "a", "template": "a"}],
        step("a", "pass"),
        step("exit", APPEND, str(exit_log), "{{workflow.status}}"),
        onExit="exit",
    )
    _nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.SUCCEEDED
    assert exit_log.read_text() == "Succeeded\n"


async def test_cancel_right_after_submit_runs_only_the_exit_handler(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    doc = workflow(
        "early",
        [{"name": "a", "template": "a"}],
        step("a", APPEND, str(log), "main ran"),
        step("exit", APPEND, str(log), "exit {{workflow.status}}"),
        onExit="exit",
    )
    run_id = await executor.submit(doc)
    await executor.cancel(run_id)
    end = await executor.wait(run_id)
    assert (end.phase, end.message) == (Phase.FAILED, "cancelled")
    assert log.read_text() == "exit Failed\n"


async def test_template_deadline_kills_the_attempt(executor: LocalExecutor, tmp_path: Path) -> None:
    doc = workflow(
        "slowstep",
        [{"name": "s", "template": "s"}],
        step("s", SLEEPER, str(tmp_path / "child"), activeDeadlineSeconds=1),
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.FAILED
    assert run.message == "s failed: killed after activeDeadlineSeconds (1 s)"
    assert final(nodes)["s(0)"].phase is Phase.FAILED
