"""Benchmark and model: how fast is a film on N nodes, from costs measured on this machine.

Measures what a cluster run is made of, with the real step programs (``python -m
pipelines.steps``) on a generated 1080p reference clip (testsrc2 with grain, ~60 Mbit/s H.264,
AAC audio) and the reference profile (the built-in ``h264``: libx264 medium CRF 23, audio
copied), each encode at one thread:

- encode: the ``encode`` step on slices of two lengths; a line through the two gives a fixed
  cost per slice and a cost per second of video;
- the serial tail: ``split`` and ``merge`` (join, mux, verify) of the clip, per second of media;
- step start-up: the step program's start (interpreter and imports) without work.

Costs are CPU seconds of the step and its ffmpeg children (``RUSAGE_CHILDREN``), medians of
REPEAT runs: on a dedicated core that is the wall time, and unlike wall time it does not depend
on what else this shared machine runs. Argo's own overheads are not measured here: the pod start
latency (``--pod-start``, default 5 s: scheduling and starting a container whose image is
cached) and the controller's reconcile delay (``--reconcile``, default 1 s) are parameters.

Then :mod:`benchmarks.cluster_model` plays the Workflow for a FILM_SECONDS (2 h) 1080p film on
N = 1..64 nodes (one one-thread encode slot each, ``--slots`` per node) and prints the wall
time and speedup at the default slice length, and the slice length that maximises speedup for
each N. Speedup is against one node at the default slice length.

    python -m benchmarks.bench_cluster [--full] [--pod-start 5] [--reconcile 1]
        [--straggler-sigma 0.15] [--slots 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from benchmarks.cluster_model import (
    DEFAULT_POD_START,
    DEFAULT_RECONCILE,
    DEFAULT_STRAGGLER_SIGMA,
    Costs,
    Overheads,
    wall_time,
)
from clustercode.profiles.profileset import ProfileSet
from pipelines.ffmpeg import ffmpeg_path

FILM_SECONDS = 2 * 3600.0
NODES = (1, 2, 4, 8, 16, 32, 64)
SLICE_CHOICES = (10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0)
TARGET_EFFICIENCY = 0.9
STEP = (sys.executable, "-m", "pipelines.steps")


def make_clip(path: Path, seconds: float) -> None:
    """A 1080p25 clip with grain and audio at a Blu-ray-like bit rate, 1 s keyframe interval."""
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-vf", "noise=alls=4:allf=t", "-g", "25",
         "-c:v", "libx264", "-preset", "superfast", "-crf", "20", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip


def cpu_of(command: Sequence[str]) -> float:
    """Run ``command``; return the CPU seconds it and its children used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed: {done.stderr.strip()[-400:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_steps(
    clip: Path, work: Path, settings: str
) -> tuple[list[float], list[float], list[float]]:
    """Run split, every encode and merge on ``clip``; return their CPU seconds."""
    common = ["--source", str(clip), "--settings", settings, "--work", str(work)]
    split = cpu_of([*STEP, "split", *common, "--slices-out", str(work / "slices.json")])
    count = len(json.loads((work / "slices.json").read_text()))
    encodes = [cpu_of([*STEP, "encode", *common, "--index", str(i)]) for i in range(count)]
    merge = cpu_of([*STEP, "merge", *common, "--output", str(work / "out.mkv")])
    return [split], encodes, [merge]


def measure(root: Path, short: float, long: float, repeat: int) -> Costs:
    """Measure the step costs on clips of ``short`` and ``long`` seconds."""
    profile = ProfileSet.load(None).get("h264")
    # Per clip length, per run: CPU seconds of split, of each encode, of merge.
    results: dict[float, list[tuple[list[float], list[float], list[float]]]] = {short: [], long: []}
    for seconds in (short, long):
        clip = root / f"clip-{seconds:g}.mkv"
        make_clip(clip, seconds)
        # One slice per clip: the encode cost of a slice of exactly that length.
        settings = replace(profile.encode_settings(seconds), threads=1).to_json()
        for n in range(repeat):
            work = root / f"work-{seconds:g}-{n}"
            work.mkdir()
            results[seconds].append(run_steps(clip, work, settings))
            split, encodes, merge = results[seconds][-1]
            print(
                f"  {seconds:g} s clip, run {n + 1}: split {split[0]:.2f} s, encode "
                f"{sum(encodes):.2f} s, merge {merge[0]:.2f} s (CPU)",
                flush=True,
            )
    startup = statistics.median(cpu_of([*STEP, "--help"]) for _ in range(max(3, repeat)))

    def line(index: int) -> tuple[float, float]:
        """Fixed cost (start-up excluded) and cost per second of one step, through two points."""
        at = {s: statistics.median(sum(run[index]) for run in runs) for s, runs in results.items()}
        slope = max(0.0, (at[long] - at[short]) / (long - short))
        return max(0.0, at[short] - slope * short - startup), slope

    split_fixed, split_per_second = line(0)
    encode_fixed, encode_per_second = line(1)
    merge_fixed, merge_per_second = line(2)
    return Costs(
        encode_fixed=encode_fixed,
        encode_per_second=encode_per_second,
        split_fixed=split_fixed,
        split_per_second=split_per_second,
        merge_fixed=merge_fixed,
        merge_per_second=merge_per_second,
        audio_per_second=0.0,  # the reference profile copies audio: no audio step work
        step_startup=startup,
    )


def table(costs: Costs, overheads: Overheads, slots: int, default_slice: float) -> list[str]:
    """The prediction lines: per N, wall time and speedup at the default and the best slice."""

    def wall(nodes: int, slice_seconds: float) -> float:
        return wall_time(
            duration=FILM_SECONDS,
            slice_seconds=slice_seconds,
            slots=nodes * slots,
            costs=costs,
            overheads=overheads,
        )

    base = wall(1, default_slice)
    lines = [
        f"{'N':>3} {'wall (default slice)':>21} {'speedup':>8} {'x N':>5}  "
        f"{'best slice':>10} {'wall':>9} {'speedup':>8}"
    ]
    reached = 0
    for nodes in NODES:
        at_default = wall(nodes, default_slice)
        walls = {choice: wall(nodes, choice) for choice in SLICE_CHOICES}
        best = min(walls, key=walls.__getitem__)
        at_best = walls[best]
        speedup = base / at_default
        if speedup >= TARGET_EFFICIENCY * nodes and reached == nodes // 2:
            reached = nodes
        lines.append(
            f"{nodes:>3} {clock(at_default):>21} {speedup:>8.2f} {speedup / nodes:>5.2f}  "
            f"{best:>9g}s {clock(at_best):>9} {base / at_best:>8.2f}"
        )
    lines.append(
        f"cluster model: speedup >= {TARGET_EFFICIENCY} N up to N = {reached} "
        f"(default slice {default_slice:g} s; target N <= 16)"
    )
    return lines


def clock(seconds: float) -> str:
    """``1:02:03``."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def main(argv: list[str] | None = None) -> int:
    """Measure, model, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="10 s and 60 s clips, 3 runs")
    parser.add_argument("--pod-start", type=float, default=DEFAULT_POD_START)
    parser.add_argument("--reconcile", type=float, default=DEFAULT_RECONCILE)
    parser.add_argument("--straggler-sigma", type=float, default=DEFAULT_STRAGGLER_SIGMA)
    parser.add_argument("--slots", type=int, default=1, help="one-thread encodes per node")
    args = parser.parse_args(argv)
    short, long, repeat = (10.0, 60.0, 3) if args.full else (3.0, 12.0, 1)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cc-bench-cluster-") as tmp:
        costs = measure(Path(tmp), short, long, repeat)
    print(f"measured in {time.perf_counter() - began:.0f} s (CPU seconds, one thread):")
    print(
        f"  encode: {costs.encode_fixed:.2f} s per slice + {costs.encode_per_second:.3f} s per "
        f"second of 1080p video; 2 h film: {costs.encode_per_second * FILM_SECONDS / 3600:.1f} h"
    )
    print(
        f"  split {costs.split_fixed + costs.split_per_second * FILM_SECONDS:.1f} s, merge "
        f"{costs.merge_fixed + costs.merge_per_second * FILM_SECONDS:.1f} s for the 2 h film; "
        f"step start-up {costs.step_startup:.2f} s"
    )
    overheads = Overheads(
        pod_start=args.pod_start, reconcile=args.reconcile, straggler_sigma=args.straggler_sigma
    )
    print(
        f"assumed: pod start {overheads.pod_start:g} s, reconcile {overheads.reconcile:g} s, "
        f"straggler sigma {overheads.straggler_sigma:g}, {args.slots} slot(s) per node"
    )
    default_slice = ProfileSet.load(None).get("h264").slice_seconds
    print("\n".join(table(costs, overheads, args.slots, default_slice)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
