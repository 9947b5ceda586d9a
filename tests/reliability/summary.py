"""The reliability suite's figures over a whole session, also under xdist.

Each worker writes its figures to a file beside its temporary directory when its session ends;
the main process adds them up in the terminal summary.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.reliability.harness import FIGURES

_FILE_PREFIX = "reliability-figures-"


def _figures_dir(config: pytest.Config) -> Path:
    base: Path = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    return base.parent if hasattr(config, "workerinput") else base


def write_figures(session: pytest.Session) -> None:
    if FIGURES.jobs or FIGURES.kills:
        worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
        path = _figures_dir(session.config) / f"{_FILE_PREFIX}{worker}.json"
        path.write_text(json.dumps(asdict(FIGURES)))


def summarize(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    totals: dict[str, int] = {}
    seeds: list[str] = []
    for path in sorted(_figures_dir(config).glob(f"{_FILE_PREFIX}*.json")):
        for key, value in json.loads(path.read_text()).items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
            elif key == "seeds":
                seeds.extend(value)
    if not totals.get("jobs"):
        return
    terminalreporter.write_line(
        f"reliability: {totals['kills']} kills ({totals['controller_kills']} of a controller, "
        f"{totals['redis_kills']} of redis-server), {totals['jobs']} jobs: {totals['lost']} "
        f"lost, {totals['duplicates']} duplicate transcodes, {totals['wrong']} wrong outputs, "
        f"{totals['orphans']} orphans; seeds {', '.join(seeds)}"
    )
