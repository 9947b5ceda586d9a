"""LocalExecutor stopping work: cancel, close and deadlines kill whole process groups and still
run the exit handler."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from clustercode.errors import ExecutorError
from clustercode.executors import NodeEvent, Phase, RunEvent
from clustercode.executors.local import LocalExecutor
from tests.support.local_workflows import (
    APPEND,
    SLEEPER,
    final,
    gone,
    run_to_end,
    step,
    until,
    workflow,
)

pytestmark = pytest.mark.timeout(60)


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
