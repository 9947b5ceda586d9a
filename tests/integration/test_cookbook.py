"""The README's grpcurl cookbook, run line by line against a real ``clustercode serve``."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.ffmpeg import ffmpeg_path
from tests.conftest import require_tool
from tests.support.argo_harness import start_argo_harness

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = "cookbook-secret-token"
SLOW_PROFILE = 'video: [-c:v, libx264, -preset, veryslow, -crf, "18"]\naudio: copy\n'


def cookbook() -> list[str]:
    """The grpcurl lines of the README's cookbook section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### grpcurl cookbook", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("grpcurl ")]


class Server:
    def __init__(
        self, process: subprocess.Popen[str], address: str, library: Path, executor: str
    ) -> None:
        self.process = process
        self.address = address
        self.library = library
        self.executor = executor


@pytest.fixture(params=["local", "argo"])
def executor_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings that select the executor: local, or Argo (its controller in tools/argo-harness)."""
    if request.param == "local":
        yield {}
        return
    token_file = tmp_path / "argo-token"
    token_file.write_text("argo-secret\n")
    with start_argo_harness(token_file=token_file) as sim:
        yield {
            "CLUSTERCODE_EXECUTOR": "argo",
            "CLUSTERCODE_ARGO__URL": sim.url,
            "CLUSTERCODE_ARGO__TOKEN_FILE": str(token_file),
            "CLUSTERCODE_ARGO__NAMESPACE": "media",
            "CLUSTERCODE_ARGO__POLL_INTERVAL": "0.5",
        }


@pytest.fixture
def server(tmp_path: Path, executor_env: dict[str, str]) -> Iterator[Server]:
    library, output = tmp_path / "library", tmp_path / "out"
    (library / "films").mkdir(parents=True)
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-f", "lavfi",
         "-i", "testsrc2=size=640x360:rate=25:duration=12", "-f", "lavfi",
         "-i", "sine=duration=12", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         str(library / "films" / "a.mkv")],
        check=True,
    )  # fmt: skip
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "slow.yaml").write_text(SLOW_PROFILE)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    env = {
        **os.environ,
        "CLUSTERCODE_SETTLE_SECONDS": "0",
        "CLUSTERCODE_SCAN_INTERVAL": "3600",
        **executor_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "clustercode", "serve", str(library), str(output),
         "--listen", "127.0.0.1:0", "--token-file", str(token_file),
         "--state-dir", str(tmp_path / "state"), "--profiles", str(profiles),
         "--profile", "slow", "--parallel", "1", "--slice-seconds", "4"],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stderr is not None
    address = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not address:
        line = process.stderr.readline()
        if not line:
            break
        match = re.search(r"gRPC API on (\S+)", line)
        if match:
            address = match.group(1)
    if not address:
        process.kill()
        pytest.fail("clustercode serve did not start: " + process.stderr.read())
    # Keep reading stderr so the server never blocks on a full pipe.
    logged: list[str] = []
    drain = threading.Thread(target=lambda: logged.extend(process.stderr or []), daemon=True)
    drain.start()
    try:
        yield Server(process, address, library, executor_env.get("CLUSTERCODE_EXECUTOR", "local"))
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=30)
        finally:
            process.kill()
            drain.join(timeout=5)
            process.stderr.close()
        assert code == 0, "".join(logged[-20:])
        assert not any("Traceback" in line for line in logged), "".join(logged)


def run_line(line: str, server: Server, job: str) -> subprocess.CompletedProcess[str]:
    grpcurl = require_tool("grpcurl")
    line = line.replace("$TOKEN", TOKEN).replace("$JOB", job)
    line = line.replace("127.0.0.1:50051", server.address)
    argv = shlex.split(line)
    argv[0] = grpcurl
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def job_state(server: Server, job: str) -> str:
    line = (
        "grpcurl -plaintext -H 'authorization: Bearer $TOKEN' -d '{\"job_id\": \"$JOB\"}' "
        "127.0.0.1:50051 clustercode.v1.ClustercodeService/GetJob"
    )
    result = run_line(line, server, job)
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["job"]["state"])


def test_every_cookbook_line_works(server: Server) -> None:
    lines = cookbook()
    methods = [line.split()[-1].rpartition("/")[2] for line in lines]
    assert methods[0] == "list"
    for method in ("GetStatus", "ScanLibrary", "SubmitFile", "ListJobs", "WatchJobs",
                   "CancelJob", "RetryJob", "DeleteJob", "ListProfiles", "Check"):  # fmt: skip
        assert method in methods
    job = ""
    for line, method in zip(lines, methods, strict=True):
        if method == "DeleteJob":
            # A running job must be cancelled before its entry can go: wait for the retry to end.
            deadline = time.monotonic() + 240
            while job_state(server, job) in ("JOB_STATE_QUEUED", "JOB_STATE_RUNNING"):
                assert time.monotonic() < deadline, "the retried job did not finish"
                time.sleep(1)
        result = run_line(line, server, job)
        if method == "WatchJobs":
            # The stream runs until -max-time: grpcurl then exits with 64 + DEADLINE_EXCEEDED.
            assert result.returncode in (0, 68), result.stderr
            events = [json.loads(doc) for doc in re.split(r"(?<=\})\n(?=\{)", result.stdout)]
            assert events and all(e["event"]["job"]["id"] == job for e in events)
            continue
        assert result.returncode == 0, f"{line}\n{result.stderr}"
        if method == "list":
            assert "clustercode.v1.ClustercodeService" in result.stdout
            assert "grpc.health.v1.Health" in result.stdout
            continue
        reply = json.loads(result.stdout)
        if method == "GetStatus":
            assert reply["executor"] == server.executor
            assert reply.get("executor_healthy") is True, reply
        elif method == "ScanLibrary":
            assert any(c.get("count") for c in reply["counts"])
        elif method == "ExplainFile":
            assert reply["profile"] == "slow"
            assert reply["path"].endswith("films/a.mkv")
        elif method == "SubmitFile":
            job = reply["job"]["id"]
            assert reply["job"]["state"] in ("JOB_STATE_QUEUED", "JOB_STATE_RUNNING")
        elif method == "GetJob":
            assert reply["job"]["id"] == job
        elif method == "CancelJob":
            assert reply["job"]["state"] == "JOB_STATE_CANCELLED"
        elif method == "RetryJob":
            assert reply["job"]["state"] in ("JOB_STATE_QUEUED", "JOB_STATE_RUNNING")
        elif method == "DeleteJob":
            assert reply["job"]["id"] == job
        elif method == "ListProfiles":
            assert "slow" in [p["name"] for p in reply["profiles"]]
        elif method == "Check":
            assert reply["status"] == "SERVING"
    # The deleted job is gone.
    missing = run_line(
        "grpcurl -plaintext -H 'authorization: Bearer $TOKEN' -d '{\"job_id\": \"$JOB\"}' "
        "127.0.0.1:50051 clustercode.v1.ClustercodeService/GetJob",
        server,
        job,
    )
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_missing_token_is_refused_but_health_is_open(server: Server) -> None:
    line = "grpcurl -plaintext 127.0.0.1:50051 clustercode.v1.ClustercodeService/GetStatus"
    result = run_line(line, server, "")
    assert result.returncode != 0
    assert "Unauthenticated" in result.stderr
    health = run_line("grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check", server, "")
    assert health.returncode == 0 and "SERVING" in health.stdout
