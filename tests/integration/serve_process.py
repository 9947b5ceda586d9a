"""A real ``clustercode serve`` process for the full-stack API tests, and the clips they feed it.

:func:`serve_process` starts ``python -m clustercode serve`` on a free loopback port, reads the
address from its ``gRPC API on ADDR`` line, drains its stderr in a thread so it never blocks, and
on exit stops it with SIGTERM and asserts a clean exit: status 0 and no traceback in its log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import av
import grpc

from clustercode.api.v1 import jobs_pb2, service_pb2, service_pb2_grpc
from pipelines.ffmpeg import ffmpeg_path

FAST_PROFILE = 'video: [-c:v, libx264, -preset, ultrafast, -crf, "30"]\naudio: copy\n'
SLOW_PROFILE = 'video: [-c:v, libx264, -preset, veryslow, -crf, "18"]\naudio: copy\n'

UNFINISHED = (jobs_pb2.JOB_STATE_QUEUED, jobs_pb2.JOB_STATE_RUNNING)

T = TypeVar("T")


def make_clip(path: Path, *, duration: float = 3.0, size: str = "320x180", rate: int = 25) -> Path:
    """Write an H.264 + AAC clip from lavfi's testsrc2 and sine sources; return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration}",
         "-f", "lavfi", "-i", f"sine=duration={duration}",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path


def video_frames(path: Path) -> int:
    """Count the video packets that carry data (one per frame)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


@dataclass(slots=True, kw_only=True)
class ServeProcess:
    """A running ``clustercode serve`` and the directories it was given.

    Attributes:
        process: the server process.
        address: ``HOST:PORT`` of its gRPC API.
        library: the library root.
        output: the output root.
        state_dir: its state directory (embedded Redis, work files).
        token: the bearer token it requires, "" for none.
        log: the lines it wrote to stderr so far.
    """

    process: subprocess.Popen[str]
    address: str
    library: Path
    output: Path
    state_dir: Path
    token: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata that carries the token, if there is one."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    @contextmanager
    def stub(self) -> Iterator[service_pb2_grpc.ClustercodeServiceStub]:
        """A stub of the service on a channel closed on exit."""
        with grpc.insecure_channel(self.address) as channel:
            yield service_pb2_grpc.ClustercodeServiceStub(channel)

    def get_job(self, job_id: str) -> service_pb2.GetJobResponse:
        """GetJob over a fresh channel."""
        with self.stub() as stub:
            reply: service_pb2.GetJobResponse = stub.GetJob(
                service_pb2.GetJobRequest(job_id=job_id), metadata=self.metadata, timeout=10
            )
            return reply

    def wait_job(
        self, job_id: str, done: Callable[[jobs_pb2.Job], bool], timeout: float = 60
    ) -> jobs_pb2.Job:
        """Poll GetJob until ``done`` holds for the job; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id).job
            if done(job):
                return job
            assert time.monotonic() < deadline, f"job {job_id} stuck: {job}\n{self.tail()}"
            time.sleep(0.1)

    def tail(self, lines: int = 30) -> str:
        """The last lines of the server's log, for failure messages."""
        return "".join(self.log[-lines:])


def place(source: Path, target: Path) -> Path:
    """Move a finished file into the library at once, so no scan sees it half written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return target


def files_under(root: Path) -> list[Path]:
    """Every file below ``root`` (none if it does not exist)."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Call ``check`` until it returns something other than None; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def serve_process(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    token: str = "",
    profiles: Mapping[str, str] | None = None,
    stop_timeout: float = 30,
) -> Iterator[ServeProcess]:
    """Run ``clustercode serve ROOT/library ROOT/out`` until the block ends.

    Args:
        root: directory for the library, output, state and profiles (``library`` may exist).
        *args: more options of ``clustercode serve``.
        env: environment on top of this process's (after the test defaults: no settle time,
            no periodic scan).
        token: serve with ``--token-file`` holding this token.
        profiles: profile name -> YAML, written to ``ROOT/profiles`` (``--profiles``).
        stop_timeout: seconds it may take to exit after SIGTERM.
    """
    library, output, state = root / "library", root / "out", root / "state"
    library.mkdir(parents=True, exist_ok=True)
    argv: list[str] = [
        sys.executable, "-m", "clustercode", "serve", str(library), str(output),
        "--listen", "127.0.0.1:0", "--state-dir", str(state),
    ]  # fmt: skip
    if profiles:
        directory = root / "profiles"
        directory.mkdir(exist_ok=True)
        for name, text in profiles.items():
            (directory / f"{name}.yaml").write_text(text)
        argv += ["--profiles", str(directory)]
    if token:
        token_file = root / "token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        argv += ["--token-file", str(token_file)]
    argv += args
    full_env = {
        **os.environ,
        "CLUSTERCODE_SETTLE_SECONDS": "0",
        "CLUSTERCODE_SCAN_INTERVAL": "3600",
        **(env or {}),
    }
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=full_env
    )
    assert process.stderr is not None
    logged: list[str] = []
    address = _read_address(process, logged)
    # Keep reading stderr so the server never blocks on a full pipe.
    drain = threading.Thread(target=lambda: logged.extend(process.stderr or ()), daemon=True)
    drain.start()
    server = ServeProcess(
        process=process,
        address=address,
        library=library,
        output=output,
        state_dir=state,
        token=token,
        log=logged,
    )
    try:
        yield server
    except BaseException:
        # Stop it, but let the test's own failure be the one reported.
        _stop(process, drain, logged, stop_timeout, check=False)
        raise
    _stop(process, drain, logged, stop_timeout)


def _read_address(process: subprocess.Popen[str], logged: list[str]) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        logged.append(line)
        match = re.search(r"gRPC API on (\S+)", line)
        if match:
            return match.group(1)
    process.kill()
    process.wait(timeout=10)
    rest = process.stderr.read()
    process.stderr.close()
    raise AssertionError("clustercode serve did not start:\n" + "".join(logged) + rest)


def _stop(
    process: subprocess.Popen[str],
    drain: threading.Thread,
    logged: Sequence[str],
    timeout: float,
    *,
    check: bool = True,
) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        if not check:
            return
        raise AssertionError(
            f"clustercode serve did not stop within {timeout:.0f} s of SIGTERM:\n"
            + "".join(logged[-30:])
        ) from None
    finally:
        drain.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
    if not check:
        return
    text = "".join(logged)
    assert code == 0, f"clustercode serve exited with {code}:\n{text[-3000:]}"
    assert "Traceback" not in text, text
