"""Benchmark: WatchJobs event latency, from a job's state change to every open stream's client.

Starts a real ``clustercode serve`` (local executor, embedded Redis) on a loopback port, opens
STREAMS WatchJobs streams to it over gRPC (spread over a few channels, as separate clients
would be), then changes the state of a job EVENTS times, one change every GAP seconds, through
the same Redis from this process (``History.set_state``, as the scheduler does). Each change
carries its sequence number in the job's error text; each stream notes when it receives it.
Latency = receive time - the time just before ``set_state``; reported as percentiles over every
(event, stream) pair. The job moves between ``parked`` and ``cancelled``, states the scheduler
leaves alone. Client and server share this machine, so client-side decoding is included.
Target: p99 <= 250 ms with 100 streams.

    python -m benchmarks.bench_watch [--streams 100] [--events 50] [--gap 0.1] [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

from clustercode.api.v1 import service_pb2, service_pb2_grpc
from clustercode.models import Job, JobState
from clustercode.store.connection import connect
from clustercode.store.history import History

TARGET_P99_MS = 250.0
CHANNELS = 4


def start_serve(root: Path) -> tuple[subprocess.Popen[str], str]:
    """Start ``clustercode serve`` on a free port; return it and its address."""
    (root / "library").mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "clustercode", "serve", str(root / "library"), str(root / "out"),
         "--listen", "127.0.0.1:0", "--state-dir", str(root / "state")],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CLUSTERCODE_SETTLE_SECONDS": "0", "CLUSTERCODE_SCAN_INTERVAL": "3600"},
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        match = re.search(r"gRPC API on (\S+)", line)
        if match:
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, match.group(1)
        if not line:
            break
    process.kill()
    raise SystemExit("clustercode serve did not start")


async def watch(
    stub: service_pb2_grpc.ClustercodeServiceAsyncStub,
    job_id: str,
    after: str,
    received: dict[int, float],
    opened: asyncio.Event,
    count: list[int],
    streams: int,
    events: int,
) -> None:
    """Follow one stream; note when each numbered change arrives."""
    # From a known position: a stream whose first read comes late still sees every change.
    call = stub.WatchJobs(service_pb2.WatchJobsRequest(job_id=job_id, after_event_id=after))
    await call.initial_metadata()
    count[0] += 1
    if count[0] == streams:
        opened.set()
    async for response in call:
        match = re.fullmatch(r"bench (\d+)", response.event.job.error)
        if match:
            received[int(match.group(1))] = time.perf_counter()
            if len(received) == events:
                return


async def bench(
    address: str, state_dir: Path, streams: int, events: int, gap: float
) -> list[float]:
    """Open the streams, make the changes, return every latency in milliseconds."""
    async with await connect(None, state_dir) as handle:
        history = History(handle)
        job = await history.create_job(
            Job(id="", source="/library/bench.mkv", fingerprint="1:bench", profile="hevc",
                profile_hash="bench", output="/out/bench.mkv", state=JobState.PARKED)
        )  # fmt: skip
        after = await history.last_event_id() or "0"
        channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
        stubs: list[service_pb2_grpc.ClustercodeServiceAsyncStub] = [
            service_pb2_grpc.ClustercodeServiceStub(c) for c in channels
        ]
        received: list[dict[int, float]] = [{} for _ in range(streams)]
        opened, count = asyncio.Event(), [0]
        tasks = [
            asyncio.create_task(
                watch(
                    stubs[n % CHANNELS], job.id, after, received[n], opened, count, streams, events
                )
            )
            for n in range(streams)
        ]
        await asyncio.wait_for(opened.wait(), timeout=60)
        await asyncio.sleep(1.0)  # every server-side reader is blocking on Redis now
        sent: dict[int, float] = {}
        for n in range(events):
            state = JobState.CANCELLED if n % 2 == 0 else JobState.PARKED
            sent[n] = time.perf_counter()
            await history.set_state(job.id, state, error=f"bench {n}")
            await asyncio.sleep(gap)
        await asyncio.wait(tasks, timeout=10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for channel in channels:
            await channel.close(None)
    missing = sum(events - len(r) for r in received)
    if missing:
        raise SystemExit(f"{missing} of {events * streams} events never reached their stream")
    return [(r[n] - sent[n]) * 1000 for r in received for n in range(events)]


def main(argv: list[str] | None = None) -> int:
    """Run the server, measure, print the figures and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between two changes")
    parser.add_argument("--full", action="store_true", help="200 events")
    args = parser.parse_args(argv)
    events = 200 if args.full else args.events
    with tempfile.TemporaryDirectory(prefix="cc-bench-watch-") as tmp:
        process, address = start_serve(Path(tmp))
        try:
            latencies = asyncio.run(
                bench(address, Path(tmp) / "state", args.streams, events, args.gap)
            )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = statistics.median(latencies), cuts[98]
    print(
        f"{len(latencies):,} deliveries ({events} changes x {args.streams} streams): "
        f"p50 {p50:.1f} ms, p90 {cuts[89]:.1f} ms, max {max(latencies):.1f} ms"
    )
    print(
        f"WatchJobs latency, {args.streams} streams: p99 {p99:.1f} ms "
        f"(target p99 <= {TARGET_P99_MS:.0f} ms)"
    )
    return 0 if p99 <= TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
