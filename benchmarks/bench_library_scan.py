"""Benchmark: the full no-change scan of a 100,000-file library, history lookups included.

Builds the tree of :mod:`benchmarks.bench_scan` (unique content per file), records every file as
done in an embedded Redis (setup, not timed), then times ``Decider.scan()``: walk, profile
resolution, path-cache read, index lookup and a decision per file. Median of RUNS runs.
Target: <= 5 s.

    python -m benchmarks.bench_library_scan [--dirs 1000] [--files 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.bench_scan import build_tree
from clustercode.config import load_settings
from clustercode.jobs.decide import Decider, new_job
from clustercode.library.scanner import scan
from clustercode.models import DecisionKind, JobState
from clustercode.profiles.profileset import ProfileSet
from clustercode.store.connection import connect
from clustercode.store.history import History

TARGET_S = 5.0


async def bench(root: Path, runs: int) -> list[float]:
    library, state = root / "library", root / "state"
    settings = load_settings(
        None,
        libraries=[library],
        output=root / "out",
        state_dir=state,
        settle_seconds=0,
        profile="hevc",
    )
    profiles = ProfileSet.load(None)
    async with await connect(None, state) as handle:
        history = History(handle)
        decider = Decider(settings, profiles, history)
        entries = list(
            scan(settings.libraries, exclude=settings.excluded_dirs(),
                 extensions=settings.media_extensions, settle_seconds=0)
        )  # fmt: skip
        started = time.perf_counter()
        fingerprints = await decider.fingerprints(entries)
        semaphore = asyncio.Semaphore(64)

        async def record(entry_path: Path, root_path: Path, size: int) -> None:
            resolution = profiles.resolve(entry_path, root_path, settings.profile)
            if resolution.pre_skip_reason(size) is not None:
                return
            job = new_job(settings, resolution, size, fingerprints[str(entry_path)])
            async with semaphore:
                await history.create_job(replace(job, state=JobState.SUCCEEDED))

        await asyncio.gather(*(record(e.path, e.root, e.size) for e in entries))
        print(f"setup: {len(entries)} files recorded done in {time.perf_counter() - started:.1f} s")
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            report = await decider.scan()
            times.append(time.perf_counter() - start)
            counts = report.counts
            assert counts[DecisionKind.NEW] == 0, counts
            print(
                f"  scan {times[-1]:.2f} s: "
                + ", ".join(f"{n} {k.value}" for k, n in counts.items()),
                flush=True,
            )
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirs", type=int, default=1000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cc-bench-scan-") as tmp:
        root = Path(tmp)
        (root / "library").mkdir()
        count = build_tree(root / "library", args.dirs, args.files)
        times = asyncio.run(bench(root, args.runs))
    median = statistics.median(times)
    print(
        f"no-change scan of {count} files: median {median:.2f} s over {args.runs} runs "
        f"(target <= {TARGET_S} s)"
    )


if __name__ == "__main__":
    main()
