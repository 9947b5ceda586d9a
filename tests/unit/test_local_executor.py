"""LocalExecutor on small hand-written manifests whose containers are real Python processes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from clustercode.errors import NotFoundError
from clustercode.executors import Executor, NodeEvent, Phase, RunEvent
from clustercode.executors.local import LocalExecutor
from tests.support.local_workflows import (
    APPEND,
    INTERVAL,
    PRODUCE,
    final,
    max_overlap,
    run_to_end,
    step,
    until,
    workflow,
)

pytestmark = pytest.mark.timeout(60)


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
