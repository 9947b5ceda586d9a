"""LocalExecutor runs ``retryStrategy.expression`` as Argo's controller does: after a failed
attempt that the policy and the limit would retry, a false expression ends the retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from clustercode.executors import Phase
from clustercode.executors.local import LocalExecutor
from pipelines.workflow import RETRY_EXPRESSION
from tests.support.local_workflows import final, run_to_end, step, workflow

pytestmark = pytest.mark.timeout(60)

# Each attempt appends a line to the log named by argv[1], then ends as argv[2] says.
ATTEMPT = """
    import os, signal, sys
    open(sys.argv[1], "a").write("attempt\\n")
    end = sys.argv[2]
    if end == "SIGKILL":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.exit(int(end))
"""
LIMIT = 2
NO_RETRY = "(no retry: retryStrategy.expression evaluated to false)"


@pytest.mark.parametrize(
    ("end", "expression", "attempts"),
    [
        ("3", RETRY_EXPRESSION, 1),
        ("1", RETRY_EXPRESSION, LIMIT + 1),
        ("SIGKILL", RETRY_EXPRESSION, LIMIT + 1),
        # A process killed by a signal has Argo's exit code 137 (as its emissary reports it).
        ("SIGKILL", 'lastRetry.exitCode != "137"', 1),
        ("SIGKILL", "asInt(lastRetry.exitCode) < 128 || asInt(lastRetry.exitCode) > 137", 1),
        ("1", 'lastRetry.status == "Failed" && asInt(lastRetry.exitCode) != 3', LIMIT + 1),
        ("1", 'lastRetry.status == "Error"', 1),
        # Without an expression, exit 3 is retried like any failure.
        ("3", "", LIMIT + 1),
    ],
    ids=["exit-3", "exit-1", "sigkill", "not-137", "asint", "failed-and", "error-only", "none"],
)
async def test_expression_decides_whether_a_failed_step_is_retried(
    executor: LocalExecutor, tmp_path: Path, end: str, expression: str, attempts: int
) -> None:
    log = tmp_path / "attempts"
    retry = {"limit": LIMIT, "retryPolicy": "Always", "backoff": {"duration": "10ms"}}
    if expression:
        retry["expression"] = expression
    doc = workflow(
        "expr",
        [{"name": "s", "template": "s"}],
        step("s", ATTEMPT, str(log), end, retryStrategy=retry),
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.FAILED
    last = final(nodes)
    assert sorted(last) == [f"s({i})" for i in range(attempts)]
    assert {e.phase for e in last.values()} == {Phase.FAILED}
    assert log.read_text() == "attempt\n" * attempts
    assert run.message.endswith(NO_RETRY) == (attempts == 1)
    if attempts > 1:
        assert run.message.startswith(f"s failed after {attempts} attempts: ")


async def test_a_process_that_never_started_has_exit_code_minus_1(
    executor: LocalExecutor,
) -> None:
    """Argo's ``"-1"`` (no exit code) and status ``Error``: what a pod that never ran shows."""
    retry = {
        "limit": LIMIT,
        "retryPolicy": "Always",
        "expression": 'lastRetry.exitCode != "-1" || lastRetry.status != "Error"',
    }
    doc = workflow(
        "never",
        [{"name": "s", "template": "s"}],
        step("s", "pass", retryStrategy=retry, container={"command": ["/nonexistent/tool"]}),
    )
    nodes, run = await run_to_end(executor, doc)
    assert run.phase is Phase.ERROR
    assert sorted(final(nodes)) == ["s(0)"]
    assert (
        run.message
        == f"s failed: cannot run /nonexistent/tool: No such file or directory {NO_RETRY}"
    )


@pytest.mark.parametrize(("policy", "limit"), [("OnError", LIMIT), ("Always", 0)])
async def test_policy_and_limit_come_before_the_expression(
    executor: LocalExecutor, tmp_path: Path, policy: str, limit: int
) -> None:
    """As in Argo: a policy that does not retry the phase, or a used-up limit, ends the retries
    on its own; the expression is not consulted, so the message does not blame it."""
    log = tmp_path / "attempts"
    retry = {"limit": limit, "retryPolicy": policy, "expression": RETRY_EXPRESSION}
    doc = workflow(
        "policy",
        [{"name": "s", "template": "s"}],
        step("s", ATTEMPT, str(log), "3", retryStrategy=retry),
    )
    nodes, run = await run_to_end(executor, doc)
    assert sorted(final(nodes)) == ["s(0)"]
    assert run.message == "s failed: exit code 3"
