"""The CLI's log setup: levels per command, and the JSON format's fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from clustercode.cli.logs import configure
from clustercode.jobs.activity import log_event
from clustercode.models import Job, JobEvent, JobState


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_event_fields() -> None:
    out = io.StringIO()
    configure(verbose=0, log_format="json", default=logging.INFO, stream=out)
    job = Job(
        id="abc123", source="/lib/a b.mkv", fingerprint="f", profile="h264", profile_hash="h",
        output="/out/a b.mkv", state=JobState.PARKED, attempts=3, error="encode(0) failed",
    )  # fmt: skip
    log_event(JobEvent(id="1-0", job_id=job.id, kind="state", job=job, extra={"from": "running"}))
    log_event(JobEvent(id="2-0", job_id=job.id, kind="slice", job=job))  # progress: not logged
    (line,) = out.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "clustercode.jobs.activity"
    assert (entry["job_id"], entry["file"], entry["state"], entry["from_state"]) == (
        "abc123", "/lib/a b.mkv", "parked", "running",
    )  # fmt: skip
    assert entry["reason"] == "encode(0) failed; parked after 3 attempt(s), retry by hand"
    assert entry["message"].startswith("job abc123 running -> parked: /lib/a b.mkv: encode(0)")


@pytest.mark.parametrize(
    ("verbose", "default", "shown"),
    [(0, logging.WARNING, "WARNING"), (1, logging.WARNING, "INFO"), (0, logging.INFO, "INFO"),
     (1, logging.INFO, "DEBUG"), (5, logging.INFO, "DEBUG")],
)  # fmt: skip
def test_levels(verbose: int, default: int, shown: str) -> None:
    out = io.StringIO()
    configure(verbose=verbose, default=default, stream=out)
    log = logging.getLogger("clustercode.test")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING):
        log.log(level, "at %s", logging.getLevelName(level))
    lowest = out.getvalue().splitlines()[0]
    assert f" {shown} clustercode.test: at {shown}" in lowest
