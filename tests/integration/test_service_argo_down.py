"""The control service on the Argo executor while argo-server is down, then up again.

``clustercode serve`` points at a loopback port of the argo-harness. While nothing
listens there, status must say the executor is unhealthy and name the URL, and a submitted job
must wait (failed, "not submitted, retrying", no attempt used) and be retried with backoff, never
parked. Once the argo-harness listens on that port again, the same job must succeed.
"""

from __future__ import annotations

import itertools
import os
import selectors
import subprocess
import time
from pathlib import Path

import grpc

from clustercode.api.v1 import jobs_pb2, service_pb2, service_pb2_grpc
from tests.integration.conftest import free_port
from tests.integration.serve_process import (
    FAST_PROFILE,
    make_clip,
    serve_process,
    video_frames,
)
from tests.support.argo_harness import harness_argv

NOT_SUBMITTED = "not submitted, retrying"


class SimulatedArgo:
    """``tools/argo-harness`` on a fixed loopback port, started and stopped at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start it; return its URL once it listens."""
        process = subprocess.Popen(
            harness_argv(listen=f"127.0.0.1:{self.port}"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.process = process
        assert process.stdout is not None and process.stderr is not None
        ready = "argo-harness listening on "
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and process.poll() is None:
                if selector.select(timeout=0.1):
                    line = process.stdout.readline()
                    if line.startswith(ready):
                        return line.removeprefix(ready).strip()
        self.stop()
        raise AssertionError("argo-harness did not start")

    def stop(self) -> None:
        """Stop it (no-op when it is not running)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def argo_env(port: int) -> dict[str, str]:
    return {
        **os.environ,
        "CLUSTERCODE_EXECUTOR": "argo",
        "CLUSTERCODE_ARGO__URL": f"http://127.0.0.1:{port}",
        "CLUSTERCODE_ARGO__NAMESPACE": "media",
        "CLUSTERCODE_ARGO__POLL_INTERVAL": "0.3",
        "CLUSTERCODE_RETRY_BACKOFF": "1",
    }


def test_serve_starts_while_argo_is_down_and_says_so(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    with serve_process(tmp_path, env=argo_env(port)) as server, server.stub() as stub:
        status = stub.GetStatus(service_pb2.GetStatusRequest(), timeout=30)
    assert status.executor == "argo"
    assert not status.executor_healthy
    assert f"http://127.0.0.1:{port}" in status.executor_message, status.executor_message
    assert status.redis_healthy


def test_job_waits_while_argo_is_down_then_succeeds(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clip = make_clip(tmp_path / "clip.mkv", duration=3)
    argo = SimulatedArgo(port)
    try:
        # Up while the control service starts (it reconciles with Argo), then down.
        assert argo.start() == url
        with serve_process(
            tmp_path, "--profile", "fast", "--slice-seconds", "1", "--max-attempts", "1",
            env=argo_env(port), profiles={"fast": FAST_PROFILE},
        ) as server, server.stub() as stub:  # fmt: skip
            assert stub.GetStatus(service_pb2.GetStatusRequest(), timeout=30).executor_healthy
            argo.stop()
            status = stub.GetStatus(service_pb2.GetStatusRequest(), timeout=30)
            assert status.executor == "argo" and not status.executor_healthy
            assert url in status.executor_message, status.executor_message

            # The library watcher may queue it first: SubmitFile then returns that job.
            source = server.library / "clip.mkv"
            os.replace(clip, source)
            job = stub.SubmitFile(service_pb2.SubmitFileRequest(path="clip.mkv"), timeout=30).job
            waiting = server.wait_job(
                job.id, lambda j: j.state == jobs_pb2.JOB_STATE_FAILED and j.error != "", 30
            )
            assert waiting.error.startswith(NOT_SUBMITTED), waiting.error
            assert url in waiting.error, waiting.error
            assert waiting.attempts == 0

            # Four seconds on: tried again and again (max_attempts is 1), never parked.
            events = watch_for(stub, job.id, seconds=4)
            tries = [
                e.time.ToNanoseconds() / 1e9
                for e in events
                if e.kind == jobs_pb2.JOB_EVENT_KIND_JOB_STATE
                and e.job.state == jobs_pb2.JOB_STATE_RUNNING
            ]
            assert len(tries) >= 3, events
            # Backoff: about a second between tries, not a busy loop.
            gaps = [b - a for a, b in itertools.pairwise(tries)]
            assert all(gap >= 0.9 for gap in gaps), gaps
            # Each try ends failed with no attempt used.
            failed = [e.job for e in events if e.job.state == jobs_pb2.JOB_STATE_FAILED]
            assert len(failed) >= 3, events
            assert all(j.attempts == 0 and j.error.startswith(NOT_SUBMITTED) for j in failed)
            assert all(e.job.state != jobs_pb2.JOB_STATE_PARKED for e in events), events
            still = server.get_job(job.id).job
            assert still.state != jobs_pb2.JOB_STATE_PARKED and still.attempts == 0, still

            assert argo.start() == url
            done = server.wait_job(job.id, lambda j: j.state in FINAL, timeout=90)
            assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error
            assert done.attempts == 1 and done.error == ""
            assert done.run_id == f"cc-{job.id}-1" and done.executor == "argo"
            healthy = stub.GetStatus(service_pb2.GetStatusRequest(), timeout=30)
            assert healthy.executor_healthy, healthy.executor_message
    finally:
        argo.stop()
    output = Path(done.output)
    assert output == server.output / "clip.mkv"
    assert video_frames(output) == video_frames(source) == 75


FINAL = (jobs_pb2.JOB_STATE_SUCCEEDED, jobs_pb2.JOB_STATE_PARKED, jobs_pb2.JOB_STATE_CANCELLED)


def watch_for(
    stub: service_pb2_grpc.ClustercodeServiceStub, job_id: str, seconds: float
) -> list[jobs_pb2.JobEvent]:
    """Every event of a job from the oldest on, as WatchJobs streams them for ``seconds``."""
    stream = stub.WatchJobs(
        service_pb2.WatchJobsRequest(job_id=job_id, after_event_id="0"), timeout=seconds
    )
    events: list[jobs_pb2.JobEvent] = []
    try:
        events.extend(reply.event for reply in stream)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED, exc
    return events
