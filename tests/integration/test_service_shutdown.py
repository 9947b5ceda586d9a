"""Stopping a local control service mid-job re-queues the job: nothing is lost or half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from clustercode.api.v1 import jobs_pb2, service_pb2
from tests.integration.serve_process import SLOW_PROFILE, make_clip, serve_process


def test_sigterm_requeues_the_running_job_and_the_next_start_finishes_it(
    tmp_path: Path,
) -> None:
    make_clip(tmp_path / "library" / "big.mkv", duration=8, size="640x360")
    args = ("--profile", "slow", "--slice-seconds", "4", "--parallel", "1")
    with (
        serve_process(tmp_path, *args, profiles={"slow": SLOW_PROFILE}) as server,
        server.stub() as stub,
    ):
        job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="big.mkv"), timeout=30).job
        server.wait_job(job.id, lambda j: j.frames_done > 0)
    # serve_process stopped it with SIGTERM (and checked exit 0, no traceback).
    shown = subprocess.run(
        [sys.executable, "-m", "clustercode", "history", "show", job.id, "--json",
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, check=True, env=dict(os.environ),
    )  # fmt: skip
    record = json.loads(shown.stdout)
    assert record["state"] == "queued"
    assert record["attempts"] == 0
    assert record["error"].startswith("interrupted by a shutdown")
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    with serve_process(tmp_path, *args, profiles={"slow": SLOW_PROFILE}) as server:
        done = server.wait_job(job.id, lambda j: j.state == jobs_pb2.JOB_STATE_SUCCEEDED, 240)
        assert done.attempts == 1
        assert Path(done.output).is_file()
