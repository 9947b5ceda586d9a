"""Benchmark: a no-change scan of a large library: the walk plus profile resolution per file.

Generates a tree of DIRS directories with FILES small media files each (default 1000 x 100 =
100,000 files) in a temporary directory, with ``.clustercode.yaml`` files in a few directories
and a few companion files, all dated an hour back so none is still settling. Then times, over
RUNS runs each, the median of:

- walk only: :func:`clustercode.library.scanner.scan`;
- walk + resolve, cold: a new :class:`ProfileSet` per run (the first scan after a start);
- walk + resolve, warm: one :class:`ProfileSet` across runs (every later scan);

where "resolve" is ``ProfileSet.resolve`` and ``Resolution.pre_skip_reason(size)`` for every
file. History lookups come on top of this in the full scan. Target: well under 3 s per 100,000
files.

Usage::

    python -m benchmarks.bench_scan [--dirs 1000] [--files 100] [--runs 5] [--full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from clustercode.config.settings import DEFAULT_MEDIA_EXTENSIONS
from clustercode.library.scanner import ScanStats, scan
from clustercode.profiles.profileset import ProfileSet

TARGET_S = 3.0


def build_tree(root: Path, dirs: int, files: int) -> int:
    """Create ``dirs`` directories (two levels) of ``files`` files each; return the file count."""
    old = time.time() - 3600
    groups = max(1, dirs // 50)
    count = 0
    (root / ".clustercode.yaml").write_text("profile: hevc\nskip: {min_height: 480}\n")
    for d in range(dirs):
        directory = root / f"group-{d % groups:03d}" / f"show-{d:05d}"
        directory.mkdir(parents=True)
        if d % 100 == 0:
            (directory / ".clustercode.yaml").write_text("priority: 5\nexclude: ['*sample*']\n")
        for f in range(files):
            path = directory / f"episode-{f:03d}.mkv"
            path.write_bytes(f"not really media {d} {f}".encode())
            os.utime(path, (old, old))
            count += 1
        if d % 250 == 0:
            (directory / "episode-000.mkv.clustercode.yaml").write_text("profile: av1\n")
    for group in range(groups):
        (root / f"group-{group:03d}" / ".clustercode.yaml").write_text("slice_seconds: 30\n")
    return count


def walk(root: Path) -> int:
    stats = ScanStats()
    for _entry in scan([root], extensions=DEFAULT_MEDIA_EXTENSIONS, settle_seconds=10, stats=stats):
        pass
    return stats.files


def walk_and_resolve(root: Path, profiles: ProfileSet) -> int:
    resolved = 0
    for entry in scan([root], extensions=DEFAULT_MEDIA_EXTENSIONS, settle_seconds=10):
        resolution = profiles.resolve(entry.path, entry.root)
        if resolution.pre_skip_reason(entry.size) is None:
            resolved += 1
    return resolved


def median_seconds(runs: int, action: Callable[[], int], expect: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        count = action()
        times.append(time.perf_counter() - started)
        if count != expect:
            raise SystemExit(f"expected {expect} files, got {count}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dirs", type=int, default=1000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="1,000,000 files (--dirs 10000)")
    args = parser.parse_args(argv)
    if args.full:
        args.dirs = 10_000

    with tempfile.TemporaryDirectory(prefix="cc-bench-scan-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        total = build_tree(root, args.dirs, args.files)
        built = time.perf_counter() - started
        print(f"tree: {total} files in {args.dirs} directories ({built:.1f} s to build)")
        warm = ProfileSet.load(None)
        walk_s = median_seconds(args.runs, lambda: walk(root), total)
        cold_s = median_seconds(
            args.runs, lambda: walk_and_resolve(root, ProfileSet.load(None)), total
        )
        warm_s = median_seconds(args.runs, lambda: walk_and_resolve(root, warm), total)
    print(f"walk only             median of {args.runs}: {walk_s:.3f} s")
    print(f"walk + resolve, cold  median of {args.runs}: {cold_s:.3f} s")
    print(f"walk + resolve, warm  median of {args.runs}: {warm_s:.3f} s")
    target = TARGET_S * total / 100_000
    print(
        f"walk + resolve of {total:,} files: {warm_s:.2f} s warm, {cold_s:.2f} s cold "
        f"({warm_s / total * 1e6:.1f} us per file; target <= {target:.0f} s)"
    )
    return 0 if max(cold_s, warm_s) <= target else 1


if __name__ == "__main__":
    sys.exit(main())
