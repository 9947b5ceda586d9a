"""The operator's view of a real ``clustercode serve``: Prometheus metrics and the activity log.

One real job (real ffmpeg on a generated clip, the local executor, the embedded Redis) is
watched through ``/metrics`` while it runs and after it finished; the numbers must match the
job's own record.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import grpc
import imageio_ffmpeg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from clustercode.api.v1 import jobs_pb2, service_pb2
from tests.integration.serve_process import (
    SLOW_PROFILE,
    ServeProcess,
    make_clip,
    serve_process,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)

TOKEN = "metrics-test-token-5f0c2a"
SERVICE = "/clustercode.v1.ClustercodeService"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of the endpoint, keyed by name and labels."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def metrics_url(server: ServeProcess) -> str:
    match = re.search(r"metrics on (http://\S+/metrics)", server.tail(100))
    assert match, server.tail()
    return match.group(1)


def only_job(server: ServeProcess) -> jobs_pb2.Job:
    def listed() -> jobs_pb2.Job | None:
        with server.stub() as stub:
            jobs = stub.ListJobs(
                service_pb2.ListJobsRequest(page_size=10), metadata=server.metadata, timeout=10
            ).jobs
        return jobs[0] if jobs else None

    return wait_for(listed, 60, "the scan to queue the clip")


def test_metrics_move_during_and_after_a_real_job(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "library" / "films" / "meteor.mkv", duration=10.0)
    env = {"CLUSTERCODE_FFMPEG": imageio_ffmpeg.get_ffmpeg_exe()}
    with serve_process(
        tmp_path,
        "--metrics-listen", "127.0.0.1:0", "--profile", "slow", "--parallel", "2",
        env=env, token=TOKEN, profiles={"slow": SLOW_PROFILE},
    ) as server:  # fmt: skip
        url = metrics_url(server)
        job = only_job(server)

        # During: the job runs, its attempt is counted, and encoded frames climb.
        def running() -> Samples | None:
            samples = scrape(url)
            frames = value(samples, "clustercode_frames_encoded_total")
            running = value(samples, "clustercode_jobs", state="running")
            return samples if running == 1 and frames > 0 else None

        during = wait_for(running, 120, "encoded frames while the job runs")
        assert server.get_job(job.id).job.state == jobs_pb2.JOB_STATE_RUNNING
        assert value(during, "clustercode_job_attempts_total") == 1
        assert value(during, "clustercode_queue_depth") == 0
        assert value(during, "clustercode_scan_files") == 1
        assert value(during, "clustercode_scan_duration_seconds_count") >= 1
        assert value(during, "clustercode_redis_up") == 1
        assert value(during, "clustercode_executor_up", executor="local") == 1
        assert value(during, "clustercode_bytes_in_total") == 0

        done = server.wait_job(job.id, lambda j: j.state not in (1, 2), timeout=240)
        assert done.state == jobs_pb2.JOB_STATE_SUCCEEDED, done.error

        # After: everything the job did is counted once.
        def settled() -> Samples | None:
            samples = scrape(url)
            return samples if value(samples, "clustercode_bytes_in_total") > 0 else None

        after = wait_for(settled, 30, "the success to reach the metrics")
        assert value(after, "clustercode_jobs", state="succeeded") == 1
        assert value(after, "clustercode_jobs", state="running") == 0
        assert value(after, "clustercode_parked_files") == 0
        assert value(after, "clustercode_job_transitions_total", state="succeeded") == 1
        assert value(after, "clustercode_slices_encoded_total") == done.slices_total >= 2
        assert value(after, "clustercode_frames_encoded_total") == done.frames_total == 250
        assert value(after, "clustercode_encode_fps") == 0
        assert value(after, "clustercode_bytes_in_total") == done.size_before == clip.stat().st_size
        assert value(after, "clustercode_bytes_out_total") == done.size_after > 0
        assert value(after, "clustercode_bytes_saved") == done.size_before - done.size_after

        # RPCs are counted by method and code, refusals included.
        with server.stub() as stub, pytest.raises(grpc.RpcError) as refused:
            stub.GetStatus(service_pb2.GetStatusRequest(), timeout=10)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        rpcs = scrape(url)
        get_job = {("method", f"{SERVICE}/GetJob"), ("code", "OK")}
        assert rpcs[("clustercode_rpc_requests_total", frozenset(get_job))] >= 2
        assert value(
            rpcs, "clustercode_rpc_requests_total", method=f"{SERVICE}/GetStatus",
            code="UNAUTHENTICATED",
        ) == 1  # fmt: skip
        assert (
            value(rpcs, "clustercode_rpc_duration_seconds_count", method=f"{SERVICE}/ListJobs") >= 1
        )

    # The activity log: one line per state change with id, file and reason; no token.
    log = "".join(server.log)
    source = str(clip)
    for change in ("new -> queued", "queued -> running", "running -> succeeded"):
        assert re.search(rf"job {job.id} {change}: {re.escape(source)}: \S", log), log
    assert re.search(r"scan: 1 media file\(s\) in [\d.]+ s: 1 new", log), log
    assert TOKEN not in log
