"""The fuzz suite's RPC count: each test records its calls; ``tests/conftest.py`` prints the
total at the end of the run (in the process that reports, also under xdist)."""

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


def started(config: pytest.Config) -> None:
    """Note when the run started: counts from earlier runs are left out."""
    config.stash[_STARTED] = time.time()


def summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the fuzz tests' RPC calls of this run, if any ran."""
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
