"""The fuzz suite: counts every RPC it makes and prints the total at the end of the run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest


def record_calls(config: pytest.Config, test: str, calls: int) -> None:
    """Remember how many RPC calls a fuzz test made (shared by every xdist worker)."""
    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider: nothing to share the counts through
        return
    path = Path(cache.mkdir("clustercode-fuzz")) / f"{test}.json"
    path.write_text(json.dumps(calls))


_STARTED = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STARTED] = time.time()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    cache = getattr(config, "cache", None)
    if cache is None:
        return
    counts = {
        path.stem: int(json.loads(path.read_text()))
        for path in Path(cache.mkdir("clustercode-fuzz")).glob("*.json")
        if path.stat().st_mtime >= config.stash.get(_STARTED, 0.0)
    }
    if counts:
        total = sum(counts.values())
        parts = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
        terminalreporter.write_line(f"fuzz suite: {total} RPC calls ({parts})")
