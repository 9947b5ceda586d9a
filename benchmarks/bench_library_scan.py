"""Benchmark: the no-change scan of a large library, history lookups included, time and memory.

Builds the tree of :mod:`benchmarks.bench_scan` (DIRS directories of FILES files, cascade and
companion files, unique content per file) and records every file as done in the embedded Redis
of the tree's state directory (setup, not timed: fingerprints computed, then job records and
index entries written in pipelines, as ``create_job`` writes them). Then runs ``Decider.scan()``
RUNS times, each in a fresh Python process (``clustercode run`` is one): walk, profile
resolution, path-cache read, index lookup and a decision per file. Reported: the median wall
time and the median peak RSS of that process (``ru_maxrss``, interpreter and imports included).

Targets, per million files: <= 30 s; peak RSS <= 200 MB whatever the size.

    python -m benchmarks.bench_library_scan [--dirs 1000] [--files 100] [--runs 3]
        [--full] [--workdir DIR]

``--full`` is ``--dirs 10000`` (1,000,000 files). ``--workdir DIR`` keeps the tree and its Redis
state in DIR and reuses them on the next run with the same size (building a million files takes
minutes); without it everything lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.bench_scan import build_tree
from clustercode.config import Settings, load_settings
from clustercode.errors import UnavailableError
from clustercode.jobs.decide import Decider
from clustercode.jobs.resolve import new_job, output_path
from clustercode.library.fingerprint import fingerprint
from clustercode.library.scanner import scan
from clustercode.models import DecisionKind, Job, JobState
from clustercode.profiles.profileset import ProfileSet
from clustercode.store import keys
from clustercode.store._codec import encode_job
from clustercode.store.connection import RedisHandle, connect
from clustercode.store.filecache import FileRecord
from clustercode.store.history import History

TARGET_S_PER_MILLION = 30.0
TARGET_RSS_MB = 200.0
SEED_BATCH = 5000


def settings_of(root: Path) -> Settings:
    """The settings every process of the benchmark uses for the tree under ``root``."""
    return load_settings(
        None,
        libraries=[root / "library"],
        output=root / "out",
        state_dir=root / "state",
        settle_seconds=0,
        profile="hevc",
    )


SEED_SCRIPT = """
-- Write many succeeded jobs as create_job writes them (record, the sets, the fingerprint index).
-- ARGV[1] job key prefix; ARGV[2..4] the all-jobs, succeeded and history sets; ARGV[5] the
-- fingerprint key prefix; ARGV[6] one job per line: id, score, fingerprint, profile hash and
-- the record's JSON, separated by tabs (JSON holds no raw tab or newline).
for line in string.gmatch(ARGV[6], '[^\\n]+') do
  local id, score, fp, ph, raw =
    string.match(line, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$')
  redis.call('SET', ARGV[1] .. id, raw)
  redis.call('ZADD', ARGV[2], score, id)
  redis.call('ZADD', ARGV[3], score, id)
  redis.call('ZADD', ARGV[4], score, id)
  redis.call('HSET', ARGV[5] .. fp, ph, id .. ' succeeded')
end
return 0
"""


async def seed(root: Path) -> int:
    """Record every file of the tree as done; return how many jobs were written.

    Setup only, so written the fast way: one job per profile is built with ``new_job`` and the
    others are copies of it with their own paths, and a script writes a batch in one call.
    """
    settings = settings_of(root)
    profiles = ProfileSet.load(None)
    now = time.time() - 86_400
    written = 0
    async with await connect(None, settings.state_dir) as handle:
        client, history = handle.client, History(handle)
        await client.flushdb()
        script = client.register_script(SEED_SCRIPT)
        entries = scan(
            settings.libraries,
            exclude=settings.excluded_dirs(),
            extensions=settings.media_extensions,
            settle_seconds=0,
        )
        templates: dict[tuple[str, str], Job] = {}
        records: list[FileRecord] = []
        lines: list[str] = []

        async def flush() -> None:
            await history.put_files(records)
            await script(
                args=[
                    keys.job(""),
                    keys.JOBS,
                    keys.state(JobState.SUCCEEDED),
                    keys.HISTORY,
                    keys.fingerprint(""),
                    "\n".join(lines),
                ]
            )
            records.clear()
            lines.clear()

        for entry in entries:
            record = FileRecord(
                path=str(entry.path),
                size=entry.size,
                mtime_ns=entry.mtime_ns,
                ino=entry.inode,
                fingerprint=fingerprint(entry.path, entry.size),
            )
            records.append(record)
            resolution = profiles.resolve(entry.path, entry.root, settings.profile)
            if resolution.pre_skip_reason(entry.size) is None:
                profile = resolution.profile
                key = (profile.name, str(resolution.library_root))
                template = templates.get(key)
                if template is None:
                    template = templates[key] = new_job(settings, resolution, entry.size, "x")
                score = now + written / 1000  # distinct times, as real jobs have
                job = replace(
                    template,
                    id=keys.new_job_id(),
                    source=record.path,
                    fingerprint=record.fingerprint,
                    output=str(output_path(settings, resolution)),
                    size_before=entry.size,
                    state=JobState.SUCCEEDED,
                    created_at=score,
                    finished_at=score,
                )
                lines.append(
                    f"{job.id}\t{score!r}\t{job.fingerprint}\t{job.profile_hash}\t"
                    + encode_job(job)
                )
            written += 1
            if len(records) >= SEED_BATCH:
                await flush()
        if records:
            await flush()
    return written


async def child_scan(root: Path) -> dict[str, object]:
    """One timed no-change scan, as a fresh process makes it."""
    settings = settings_of(root)
    async with await connect(None, settings.state_dir) as handle:
        decider = Decider(settings, ProfileSet.load(None), History(handle))
        started = time.perf_counter()
        report = await decider.scan()
        seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts = {kind.value: n for kind, n in report.counts.items()}
    return {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,  # imports included
        "rss_mb": usage.ru_maxrss / 1024,
        "counts": counts,
    }


def timed_run(root: Path) -> dict[str, object]:
    """Run :func:`child_scan` in a new interpreter; return what it reports."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_library_scan", "--child", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def prepare(root: Path, dirs: int, files: int) -> int:
    """Build (or reuse) the tree and the done history under ``root``; return the file count."""
    marker = root / "prepared.json"
    wanted = {"dirs": dirs, "files": files}
    if marker.exists() and json.loads(marker.read_text()).get("size") == wanted:
        count = int(json.loads(marker.read_text())["count"])
        print(f"reusing {count:,} files and their history in {root}", flush=True)
        return count
    for part in ("library", "state", "out"):
        shutil.rmtree(root / part, ignore_errors=True)
    (root / "library").mkdir(parents=True)
    began = time.perf_counter()
    count = build_tree(root / "library", dirs, files)
    print(f"tree: {count:,} files built in {time.perf_counter() - began:.0f} s", flush=True)
    began = time.perf_counter()
    written = asyncio.run(seed(root))
    asyncio.run(compact(root))
    print(f"setup: {written:,} files recorded done in {time.perf_counter() - began:.0f} s")
    marker.write_text(json.dumps({"size": wanted, "count": count}))
    return count


async def open_loaded(root: Path) -> RedisHandle:
    """Connect to the tree's embedded Redis, waiting while it loads a million jobs."""
    deadline = time.monotonic() + 300
    while True:
        try:
            return await connect(None, settings_of(root).state_dir)
        except UnavailableError as exc:
            if "loading" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)


async def compact(root: Path) -> None:
    """Rewrite the append-only file (an RDB preamble loads several times faster)."""
    async with await open_loaded(root) as handle:
        await handle.client.bgrewriteaof()
        for _ in range(600):
            if not (await handle.client.info("persistence"))["aof_rewrite_in_progress"]:
                return
            await asyncio.sleep(0.5)


async def hold_redis(root: Path, runs: int) -> list[dict[str, object]]:
    """Keep the embedded Redis up (loaded once) while the timed processes run."""
    async with await open_loaded(root):
        results = []
        for _ in range(runs):
            result = await asyncio.to_thread(timed_run, root)
            counts = result["counts"]
            assert isinstance(counts, dict) and not counts.get(DecisionKind.NEW.value), counts
            print(
                f"  scan {result['seconds']:.2f} s (process CPU {result['cpu_s']:.1f} s), "
                f"peak RSS {result['rss_mb']:.0f} MB: "
                + ", ".join(f"{n} {kind}" for kind, n in counts.items()),
                flush=True,
            )
            results.append(result)
        return results


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the tree, run the timed scans, print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dirs", type=int, default=1000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="1,000,000 files (--dirs 10000)")
    parser.add_argument("--workdir", type=Path, help="keep and reuse the tree here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(asyncio.run(child_scan(args.child))))
        return 0
    dirs = 10_000 if args.full else args.dirs
    with tempfile.TemporaryDirectory(prefix="cc-bench-scan-") as tmp:
        root = args.workdir.resolve() if args.workdir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        count = prepare(root, dirs, args.files)
        results = asyncio.run(hold_redis(root, args.runs))
    seconds = statistics.median(float(str(r["seconds"])) for r in results)
    rss = statistics.median(float(str(r["rss_mb"])) for r in results)
    target_s = TARGET_S_PER_MILLION * count / 1_000_000
    ok = seconds <= target_s and rss <= TARGET_RSS_MB
    print(
        f"no-change scan of {count:,} files: {seconds:.1f} s, peak RSS {rss:.0f} MB "
        f"(median of {args.runs}; target <= {target_s:.0f} s, <= {TARGET_RSS_MB:.0f} MB)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
