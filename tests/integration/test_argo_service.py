"""The whole control service on the Argo executor, against the simulated argo-server.

The control service is killed with SIGKILL mid-job and started again: it must find the job's
workflow, follow it to the end without submitting it twice, and record an exact output.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from clustercode.api.v1 import jobs_pb2, service_pb2, service_pb2_grpc
from pipelines.ffmpeg import checked_ffmpeg, ffmpeg_path
from tests.pipelines.media_checks import frame_hashes
from tests.support.argosim import start_simulated_argo_server


def start_serve(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "clustercode", "serve", str(tmp_path / "library"),
         str(tmp_path / "out"), "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state"),
         "--profile", "ffv1", "--slice-seconds", "2"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        match = re.search(r"gRPC API on (\S+)", line)
        if match:
            return process, match.group(1)
        if not line:
            break
    process.kill()
    raise AssertionError("serve did not start: " + process.stderr.read())


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    finally:
        process.kill()
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture
def sim_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    with start_simulated_argo_server() as sim:
        env = {
            **os.environ,
            "CLUSTERCODE_SETTLE_SECONDS": "0",
            "CLUSTERCODE_SCAN_INTERVAL": "3600",
            "CLUSTERCODE_EXECUTOR": "argo",
            "CLUSTERCODE_ARGO__URL": sim.url,
            "CLUSTERCODE_ARGO__NAMESPACE": "media",
            "CLUSTERCODE_ARGO__POLL_INTERVAL": "0.3",
        }
        yield env, sim.url


def get_job(address: str, job_id: str) -> jobs_pb2.Job:
    with grpc.insecure_channel(address) as channel:
        stub = service_pb2_grpc.ClustercodeServiceStub(channel)
        reply = stub.GetJob(service_pb2.GetJobRequest(job_id=job_id), timeout=10)
        return reply.job


def test_killed_control_service_reconciles_and_output_is_exact(
    tmp_path: Path, sim_env: tuple[dict[str, str], str]
) -> None:
    env, url = sim_env
    source = tmp_path / "library" / "clip.mkv"
    source.parent.mkdir(parents=True)
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-f", "lavfi",
         "-i", "testsrc2=size=640x360:rate=25:duration=10", "-f", "lavfi", "-i", "sine=duration=10",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(source)],
        check=True,
    )  # fmt: skip
    process, address = start_serve(tmp_path, env)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = service_pb2_grpc.ClustercodeServiceStub(channel)
            job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="clip.mkv"), timeout=30).job
        deadline = time.monotonic() + 120
        while True:
            current = get_job(address, job.id)
            if current.slices_done >= 1 or current.frames_done > 0:
                break
            assert time.monotonic() < deadline, "no progress before the kill"
            time.sleep(0.2)
        assert current.state == jobs_pb2.JOB_STATE_RUNNING
    finally:
        stop(process, signal.SIGKILL)

    # The workflow goes on without the control service; start it again.
    process, address = start_serve(tmp_path, env)
    try:
        deadline = time.monotonic() + 240
        while True:
            final = get_job(address, job.id)
            if final.state not in (jobs_pb2.JOB_STATE_QUEUED, jobs_pb2.JOB_STATE_RUNNING):
                break
            assert time.monotonic() < deadline, "the job did not finish after the restart"
            time.sleep(0.5)
    finally:
        stop(process)
    assert final.state == jobs_pb2.JOB_STATE_SUCCEEDED, final.error
    assert final.attempts == 1
    listed = httpx.get(f"{url}/api/v1/workflows/media", timeout=10).json()
    names = [item["metadata"]["name"] for item in listed.get("items") or []]
    assert names == [f"cc-{job.id}-1"]
    output = tmp_path / "out" / "clip.mkv"
    assert frame_hashes(checked_ffmpeg(), output) == frame_hashes(checked_ffmpeg(), source)
