"""Drive real ``clustercode run`` processes against a real redis-server, kill things, and check.

Everything is real: the controller is ``python -m clustercode run``, steps are
``python -m pipelines.steps`` processes, ffmpeg encodes small lavfi clips, Redis is Debian's
redis-server (with an append-only file, so it can be killed and restarted without losing data).
The checks read Redis and the disk directly, not through clustercode.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from pipelines.ffmpeg import ffmpeg_path
from tests.integration.conftest import free_port

MAX_ATTEMPTS = 5
FINAL_STATES = ("succeeded", "parked", "cancelled")


@dataclass(slots=True)
class Figures:
    """What the suite did and found, over all its tests (printed at the end of the session)."""

    kills: int = 0
    controller_kills: int = 0
    redis_kills: int = 0
    jobs: int = 0
    lost: int = 0
    duplicates: int = 0
    wrong: int = 0
    orphans: int = 0
    problems: list[str] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)


FIGURES = Figures()


def seeded(name: str) -> random.Random:
    """A random generator for one test, seeded from ``CLUSTERCODE_RELIABILITY_SEED`` or the
    clock; the seed is printed so that a failure can be replayed."""
    seed = int(os.environ.get("CLUSTERCODE_RELIABILITY_SEED") or time.time_ns() % 2**31)
    print(f"{name}: seed {seed} (replay with CLUSTERCODE_RELIABILITY_SEED={seed})")
    FIGURES.seeds.append(f"{name}={seed}")
    return random.Random(seed)


def make_clip(
    path: Path, *, pattern: str = "testsrc2", seconds: int = 6, raw: bool = False
) -> Path:
    """A small clip from lavfi: H.264 with B-frames in mkv, or raw video in AVI (``raw``: the
    size depends only on the frame count, so two patterns give files of the same length)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    source = f"{pattern}=size=320x240:rate=25:duration={seconds}"
    codec = (
        ["-c:v", "rawvideo", "-pix_fmt", "yuv420p"]
        if raw
        else ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25"]
    )
    subprocess.run(
        [
            ffmpeg_path(),
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            source,
            *codec,
            "-y",
            str(path),
        ],
        check=True,
    )
    return path


def video_hashes(path: Path) -> list[str]:
    """The MD5 of every decoded video frame, in order (``-f framemd5``)."""
    done = subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
         "-f", "framemd5", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in done.stdout.splitlines() if line[:1] != "#"]


class RedisServer:
    """A redis-server with an append-only file (fsync always): it can die and come back."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again) and wait until it answers."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.directory),
             "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.exceptions.BusyLoadingError:
                    pass
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not answer")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        FIGURES.redis_kills += 1
        FIGURES.kills += 1

    def stop(self) -> None:
        """Stop it for good."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    argv: tuple[str, ...]

    @property
    def kind(self) -> str:
        if "pipelines.steps" in self.argv:
            return "step"
        if Path(self.argv[0]).name.startswith("ffmpeg"):
            return "ffmpeg"
        if "clustercode" in self.argv:
            return "controller"
        return "other"


class Store:
    """One library, output root, state directory and Redis database, driven by ``run``."""

    def __init__(self, root: Path, redis_url: str, *, parallel: int = 2, slice_seconds: float = 1):
        self.root = root
        self.library = root / "library"
        self.output = root / "out"
        self.state = root / "state"
        self.logs = root / "logs"
        for path in (self.library, self.output, self.state, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        self.redis_url = redis_url
        self.parallel = parallel
        self.slice_seconds = slice_seconds
        # Any: redis-py's sync types do not know about decode_responses.
        self.client: Any = redis.Redis.from_url(redis_url, decode_responses=True)
        self.client.flushdb()
        self._runs = 0

    def add(self, name: str, clip: Path) -> Path:
        target = self.library / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(clip.read_bytes())
        return target

    def argv(self, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "clustercode", "run", str(self.library), str(self.output),
            "--state-dir", str(self.state), "--redis-url", self.redis_url, "--profile", "ffv1",
            "--slice-seconds", str(self.slice_seconds), "--parallel", str(self.parallel),
            "--max-attempts", str(MAX_ATTEMPTS), "--no-progress", *extra,
        ]  # fmt: skip

    def start(self, *extra: str) -> tuple[subprocess.Popen[str], Path, Path]:
        """Start ``clustercode run``; its stdout and stderr go to files (returned)."""
        self._runs += 1
        out = self.logs / f"run{self._runs}.out"
        err = self.logs / f"run{self._runs}.err"
        env = {**os.environ, "CLUSTERCODE_SETTLE_SECONDS": "0", "CLUSTERCODE_RETRY_BACKOFF": "0"}
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                self.argv(*extra), stdout=stdout, stderr=stderr, text=True, env=env,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        return process, out, err

    def run(self, *extra: str, timeout: float = 180) -> tuple[int, str, str]:
        """Run ``clustercode run`` to its end."""
        process, out, err = self.start(*extra)
        code = process.wait(timeout=timeout)
        return code, out.read_text(), err.read_text()

    def processes(self) -> list[Proc]:
        """Every process whose command line names this store's directories."""
        marker = str(self.root) + "/"
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            argv = tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)
            if argv and any(marker in a or a == str(self.root) for a in argv):
                found.append(Proc(pid=int(entry.name), argv=argv))
        return found

    def kill(self, proc: Proc) -> bool:
        """SIGKILL one process; whether it was still there."""
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        FIGURES.kills += 1
        if proc.kind == "controller":
            FIGURES.controller_kills += 1
        return True

    def wait_quiet(self, timeout: float = 15) -> list[Proc]:
        """Wait for every process of the store to end; return those still there."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.processes()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)

    def jobs(self) -> list[dict[str, Any]]:
        ids = self.client.zrange("clustercode:jobs", 0, -1)
        return [json.loads(self.client.get(f"clustercode:job:{i}") or "{}") for i in ids]

    def state_changes(self) -> list[tuple[str, str, str]]:
        """``(job id, from, to)`` of every state event in the stream."""
        changes: list[tuple[str, str, str]] = []
        for _id, data in self.client.xrange("clustercode:events"):
            if data.get("kind") != "state":
                continue
            before = json.loads(data.get("extra", "{}")).get("from", "")
            changes.append((data["job_id"], before, json.loads(data["job"])["state"]))
        return changes

    def check(self, expected: dict[Path, list[str]]) -> list[str]:
        """Check the outcome against ``{source: its frames' hashes}``; count into FIGURES.

        Every source has exactly one job, which succeeded exactly once, within the attempt
        limit, and whose output has exactly the source's frames; nothing of the run is left:
        no process, no work directory, no temporary file.
        """
        problems: list[str] = []
        jobs = self.jobs()
        finals = Counter(job_id for job_id, _, to in self.state_changes() if to in FINAL_STATES)
        for source, hashes in expected.items():
            FIGURES.jobs += 1
            mine = [j for j in jobs if j.get("source") == str(source)]
            done = [j for j in mine if j.get("state") == "succeeded"]
            if not done:
                FIGURES.lost += 1
                states = [f"{j.get('state')}: {j.get('error')}" for j in mine]
                problems.append(f"{source.name}: not transcoded ({states})")
                continue
            if len(done) > 1 or any(finals[j["id"]] > 1 for j in done):
                FIGURES.duplicates += 1
                problems.append(f"{source.name}: transcoded more than once")
            job = done[0]
            if job["attempts"] > MAX_ATTEMPTS:
                problems.append(f"{source.name}: {job['attempts']} attempts > {MAX_ATTEMPTS}")
            output = Path(job["output"])
            if not output.is_file() or video_hashes(output) != hashes:
                FIGURES.wrong += 1
                problems.append(f"{source.name}: output {output} is not its frames")
        left = self.wait_quiet()
        work = self.state / "work"
        leftovers = [p.name for p in work.iterdir()] if work.is_dir() else []
        temps = [p.name for p in self.output.rglob(".*")]
        if left or leftovers or temps:
            FIGURES.orphans += len(left) + len(leftovers) + len(temps)
            problems.append(f"left behind: processes {left}, work {leftovers}, temp {temps}")
        FIGURES.problems.extend(problems)
        return problems
