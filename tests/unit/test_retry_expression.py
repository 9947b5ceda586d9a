"""The local executor's ``retryStrategy.expression``: the grammar it accepts, the values it gives
after an attempt (as Argo's controller would), and what it refuses and why."""

from __future__ import annotations

import pytest

from clustercode.errors import ManifestError
from clustercode.executors._manifest import parse_manifest
from clustercode.executors._plan import ContainerTemplate
from clustercode.executors._retry_expression import (
    ExpressionError,
    argo_exit_code,
    parse_retry_expression,
)
from pipelines.workflow import RETRY_EXPRESSION
from tests.support.local_workflows import step, workflow

# Attempts as Argo describes them: (lastRetry.status, lastRetry.exitCode).
EXIT_0_ERROR = ("Error", "0")  # exited 0, but an output parameter was missing
EXIT_1 = ("Failed", "1")
EXIT_3 = ("Failed", "3")
KILLED = ("Failed", "137")
NO_EXIT_CODE = ("Error", "-1")  # a deleted pod, a command that never started
ATTEMPTS = (EXIT_0_ERROR, EXIT_1, EXIT_3, KILLED, NO_EXIT_CODE)

ACCEPTED = {
    'lastRetry.exitCode != "3"': (True, True, False, True, True),
    "lastRetry.exitCode != '3'": (True, True, False, True, True),
    '"3" != lastRetry.exitCode': (True, True, False, True, True),
    'lastRetry.exitCode == "-1"': (False, False, False, False, True),
    'lastRetry.status == "Error"': (True, False, False, False, True),
    'lastRetry.status != "Error" && lastRetry.exitCode != "3"': (
        False, True, False, True, False,
    ),
    'lastRetry.exitCode == "1" || lastRetry.exitCode == "137"': (
        False, True, False, True, False,
    ),
    # && binds tighter than ||; parentheses change it.
    'lastRetry.exitCode == "0" || lastRetry.exitCode == "1" && lastRetry.status == "Error"': (
        True, False, False, False, False,
    ),
    '(lastRetry.exitCode == "0" || lastRetry.exitCode == "1") && lastRetry.status == "Error"': (
        True, False, False, False, False,
    ),
    '(lastRetry.exitCode == "0" || lastRetry.exitCode == "1") && lastRetry.status == "Failed"': (
        False, True, False, False, False,
    ),
    "asInt(lastRetry.exitCode) >= 128": (False, False, False, True, False),
    "asInt(lastRetry.exitCode) < 0": (False, False, False, False, True),
    "asInt( lastRetry.exitCode )!=3": (True, True, False, True, True),
    "asInt(lastRetry.exitCode) == -1": (False, False, False, False, True),
    "2 < asInt(lastRetry.exitCode)": (False, False, True, True, False),
    "4 <= asInt(lastRetry.exitCode)": (False, False, False, True, False),
    "((asInt(lastRetry.exitCode) > 0))": (False, True, True, True, False),
}  # fmt: skip


@pytest.mark.parametrize("text", sorted(ACCEPTED))
def test_accepted_expressions_give_argos_values(text: str) -> None:
    expression = parse_retry_expression(text)
    values = tuple(expression.allows_retry(status=s, exit_code=c) for s, c in ATTEMPTS)
    assert values == ACCEPTED[text]


def test_the_workflows_expression_retries_everything_but_exit_3() -> None:
    expression = parse_retry_expression(RETRY_EXPRESSION)
    assert [a for a in ATTEMPTS if not expression.allows_retry(status=a[0], exit_code=a[1])] == [
        EXIT_3
    ]


REFUSED = {
    # expr-lang compares the string "3" with the number 3 as unequal: always true here.
    "lastRetry.exitCode != 3": "lastRetry.exitCode is a string in Argo and never equals the "
    'number 3: compare it with "3" or use asInt(lastRetry.exitCode)',
    "asInt(lastRetry.exitCode) == '3'": "asInt(lastRetry.exitCode) is an integer: compare it "
    "with a number",
    'lastRetry.exitCode > "3"': "lastRetry.exitCode is a string: compare it with == or !=",
    "asInt(retries) < 2": "expected lastRetry.exitCode inside asInt(), found 'retries' at column 7",
    "asInt(lastRetry.status) > 0": "expected lastRetry.exitCode inside asInt()",
    "asInt(lastRetry.exitCode": "expected ), found the end",
    "retries < 2": "unsupported name 'retries' at column 1",
    'lastRetry.message != ""': "unsupported name 'lastRetry.message' at column 1",
    "true": "unsupported name 'true' at column 1",
    "lastRetry.exitCode": "expected a comparison (==, !=, <, <=, >, >=), found the end",
    'lastRetry.exitCode != "3" and true': "expected && or || or the end, found 'and' at column 27",
    '!(lastRetry.exitCode == "3")': "unexpected '!' at column 1",
    'lastRetry.exitCode in ["3"]': "unexpected '[' at column 23",
    'lastRetry.exitCode in "3"': "expected a comparison (==, !=, <, <=, >, >=), found 'in'",
    'lastRetry.exitCode == "3\\"': "unexpected '\"' at column 23",
    '"3" == "3"': "== at column 5 must compare a variable with a value",
    "lastRetry.exitCode == lastRetry.status": "must compare a variable with a value",
    '(lastRetry.exitCode == "3"': "expected ), found the end",
    'lastRetry.exitCode == "3")': "expected && or || or the end, found ')' at column 26",
    'lastRetry.exitCode == "3" ||': "expected a variable or a value, found the end",
    "   ": "expected a variable or a value, found the end",
}


@pytest.mark.parametrize("text", sorted(REFUSED))
def test_refused_expressions_say_why(text: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_retry_expression(text)
    assert REFUSED[text] in str(info.value)


def test_a_refused_expression_names_its_field_at_submit_time() -> None:
    retry = {"limit": 1, "expression": "lastRetry.exitCode != 3"}
    doc = workflow("x", [{"name": "a", "template": "a"}], step("a", "pass", retryStrategy=retry))
    with pytest.raises(ManifestError) as info:
        parse_manifest(doc)
    message = str(info.value)
    assert message.startswith(
        "manifest field spec.templates[0] (a).retryStrategy.expression 'lastRetry.exitCode != 3': "
        "lastRetry.exitCode is a string in Argo"
    )
    assert message.endswith('; e.g. lastRetry.exitCode != "3"')


@pytest.mark.parametrize(("text", "kept"), [("", False), (RETRY_EXPRESSION, True)])
def test_the_plan_keeps_the_expression_argo_evaluates(text: str, kept: bool) -> None:
    """Argo skips an empty expression; any other is parsed into the plan."""
    retry = {"limit": 1, "expression": text}
    doc = workflow("x", [{"name": "a", "template": "a"}], step("a", "pass", retryStrategy=retry))
    template = parse_manifest(doc).templates["a"]
    assert isinstance(template, ContainerTemplate) and template.retry is not None
    expression = template.retry.expression
    assert (expression.text if expression else None) == (text if kept else None)


@pytest.mark.parametrize(
    ("returncode", "exit_code"),
    [(None, "-1"), (0, "0"), (1, "1"), (3, "3"), (143, "143"), (-9, "137"), (-15, "137")],
)
def test_exit_codes_are_the_ones_argo_reports(returncode: int | None, exit_code: str) -> None:
    # No exit code: Argo's "-1"; killed by a signal: its emissary's 137, whichever the signal.
    assert argo_exit_code(returncode) == exit_code
