"""Stopping the control service gracefully (SIGTERM) while Argo runs its jobs.

With the Argo executor a job's work runs in Argo, not in the control service: a graceful stop
(a Kubernetes rollout, a token change) must leave the Workflows running, and the next start must
follow them to the end. A graceful stop must also be quick while argo-server is unreachable.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from clustercode.api.v1 import jobs_pb2, service_pb2
from tests.integration.serve_process import (
    SLOW_PROFILE,
    make_clip,
    serve_process,
    video_frames,
)
from tests.support.argo_harness import start_argo_harness

FINAL = (jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_PARKED, jobs_pb2.JOB_STATE_CANCELLED)


def argo_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "CLUSTERCODE_EXECUTOR": "argo",
        "CLUSTERCODE_ARGO__URL": url,
        "CLUSTERCODE_ARGO__NAMESPACE": "media",
        "CLUSTERCODE_ARGO__POLL_INTERVAL": "0.3",
    }


def test_sigterm_leaves_argo_workflows_running_and_restart_follows_them(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "library" / "clip.mkv", duration=6)
    options = ("--profile", "slow", "--slice-seconds", "3")
    with start_argo_harness() as sim:
        with serve_process(
            tmp_path, *options, env=argo_env(sim.url), profiles={"slow": SLOW_PROFILE}
        ) as server, server.stub() as stub:  # fmt: skip
            job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="clip.mkv"), timeout=30).job
            server.wait_job(job.id, lambda j: j.frames_done > 0, timeout=60)
        # serve_process has stopped it with SIGTERM and checked it exited 0.
        name = f"cc-{job.id}-1"
        workflow = httpx.get(f"{sim.url}/api/v1/workflows/media/{name}", timeout=10).json()
        assert "shutdown" not in workflow["spec"], workflow["spec"]
        assert workflow["status"]["phase"] in ("Running", "Succeeded"), workflow["status"]

        with serve_process(
            tmp_path, *options, env=argo_env(sim.url), profiles={"slow": SLOW_PROFILE}
        ) as server:  # fmt: skip
            final = server.wait_job(job.id, lambda j: j.state in FINAL, timeout=120)
        listed = httpx.get(f"{sim.url}/api/v1/workflows/media", timeout=10).json()
    assert final.state == jobs_pb2.JOB_STATE_SUCCEEDED, final.error
    assert final.attempts == 1
    assert [item["metadata"]["name"] for item in listed.get("items") or []] == [name]
    assert video_frames(Path(final.output)) == video_frames(source) == 150


def test_sigterm_is_quick_while_argo_is_unreachable(tmp_path: Path) -> None:
    make_clip(tmp_path / "library" / "clip.mkv", duration=6)
    with start_argo_harness() as sim, serve_process(
        tmp_path, "--profile", "slow", "--slice-seconds", "3",
        env=argo_env(sim.url), profiles={"slow": SLOW_PROFILE}, stop_timeout=15,
    ) as server, server.stub() as stub:  # fmt: skip
        job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="clip.mkv"), timeout=30).job
        server.wait_job(job.id, lambda j: j.frames_done > 0, timeout=60)
        sim.process.terminate()
        sim.process.wait(timeout=15)
        status = stub.GetStatus(service_pb2.GetStatusRequest(), timeout=30)
        assert not status.executor_healthy
        # Leaving the block sent SIGTERM and required exit status 0 within 15 s.
