"""Shared test configuration: tool discovery that skips locally and fails in CI."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_TOOLS = os.environ.get("CLUSTERCODE_REQUIRE_TOOLS") == "1"


def require_tool(name: str) -> str:
    """Return the path of a command-line tool, or skip (fail under CLUSTERCODE_REQUIRE_TOOLS=1)."""
    found = shutil.which(name) or shutil.which(name, path=os.path.expanduser("~/go/bin"))
    if found:
        return found
    message = f"{name} is not installed"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


def pytest_configure(config: pytest.Config) -> None:
    from tests.fuzz.counts import started

    started(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.reliability.summary import write_figures

    write_figures(session)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    from tests.fuzz.counts import summary

    summary(terminalreporter, config)

    from tests.reliability.summary import summarize

    summarize(terminalreporter, config)
