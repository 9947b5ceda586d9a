"""Chunked encode on the local executor against one ffmpeg, side by side on this machine.

On a generated 60 s 1080p clip, x264 veryfast CRF 23, each round runs (in alternating order)
one ffmpeg with P threads and the LocalExecutor running the generated Workflow with P one-thread
slice encodes in parallel (P = cores). Reported: medians of the wall times, each round's
side-by-side ratio and their median (the figure the target is for), the
serial tail (split + merge, which verifies) as % of the single-pass time, and SSIM and size of both
outputs against the source.

    python -m benchmarks.bench_pipeline [--rounds 1] [--seconds 60] [--size 1920x1080] [--full]

The clip is the quoted size by default (a shorter one would weigh the fixed start-up costs of
split and merge far above what a film sees); ``--rounds 3`` is ``--full``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clustercode.executors.base import NodeEvent, Phase, RunEvent
from clustercode.executors.local import LocalExecutor
from pipelines.ffmpeg import ffmpeg_path
from pipelines.settings import EncodeSettings
from pipelines.workflow import WorkflowSpec, manifest

VIDEO = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23")


def make_clip(path: Path, seconds: int, size: str) -> None:
    """A synthetic 1080p clip with grain and audio, at a Blu-ray-like bit rate (~60 Mbit/s)."""
    subprocess.run(
        [
            ffmpeg_path(), "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-vf", "noise=alls=4:allf=t",
            "-c:v", "libx264", "-preset", "superfast", "-crf", "20",
            "-c:a", "aac", str(path),
        ],
        check=True,
    )  # fmt: skip


def single_pass(source: Path, out: Path, threads: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-y", "-i", str(source), "-map", "0",
         *VIDEO, "-threads", str(threads), "-c:a", "copy", str(out)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


async def chunked(
    source: Path, out: Path, work: Path, slices: int, seconds: float
) -> tuple[float, float]:
    """Wall time of the whole Workflow and of its serial part (split + merge)."""
    settings = EncodeSettings(video=VIDEO, slice_seconds=seconds / slices, threads=1)
    spec = WorkflowSpec(
        job_id="bench",
        name=f"bench-{time.monotonic_ns()}",
        source=str(source),
        output=str(out),
        work_dir=str(work),
        settings=settings,
        step_command=(sys.executable, "-m", "pipelines.steps"),
        parallelism=slices,
    )
    executor = LocalExecutor(max_parallel=slices)
    started: dict[str, float] = {}
    serial = 0.0
    start = time.perf_counter()
    run_id = await executor.submit(manifest(spec))
    async for event in executor.watch(run_id):
        if isinstance(event, RunEvent):
            if event.phase.done:
                if event.phase is not Phase.SUCCEEDED:
                    raise RuntimeError(f"workflow failed: {event.message}")
                break
            continue
        assert isinstance(event, NodeEvent)
        if event.task in ("split", "merge"):
            if event.phase is Phase.RUNNING:
                started[event.node_id] = time.perf_counter()
            elif event.phase is Phase.SUCCEEDED and event.node_id in started:
                serial += time.perf_counter() - started[event.node_id]
    wall = time.perf_counter() - start
    await executor.close()
    return wall, serial


def ssim(ffmpeg: str, output: Path, source: Path) -> float:
    result = subprocess.run(
        [ffmpeg, "-nostdin", "-i", str(output), "-i", str(source),
         "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"All:([0-9.]+)", result.stderr)
    assert match, result.stderr[-500:]
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--full", action="store_true", help="--rounds 3 --seconds 60")
    args = parser.parse_args()
    if args.full:
        args.rounds, args.seconds = 3, 60
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        root = Path(tmp)
        source = root / "source.mkv"
        make_clip(source, args.seconds, args.size)
        single_times, chunk_times, tails = [], [], []
        for round_ in range(args.rounds):
            order = ("single", "chunked") if round_ % 2 == 0 else ("chunked", "single")
            for kind in order:
                if kind == "single":
                    single_times.append(single_pass(source, root / "single.mkv", cores))
                else:
                    work = root / f"work-{round_}"
                    wall, serial = asyncio.run(
                        chunked(source, root / "chunked.mkv", work, cores, args.seconds)
                    )
                    chunk_times.append(wall)
                    tails.append(serial)
            print(
                f"round {round_ + 1}: single {single_times[-1]:.2f} s, "
                f"chunked {chunk_times[-1]:.2f} s (serial {tails[-1]:.2f} s)",
                flush=True,
            )
        single = statistics.median(single_times)
        chunk = statistics.median(chunk_times)
        tail = statistics.median(tails)
        # Each round's two runs are side by side, so their ratio cancels the machine's drift
        # between rounds (seen here: the same single pass 59.6 s in one round, 51.4 s in the next).
        ratios = [c / s for c, s in zip(chunk_times, single_times, strict=True)]
        paired = statistics.median(ratios)
        ff = ffmpeg_path()
        s_single = ssim(ff, root / "single.mkv", source)
        s_chunk = ssim(ff, root / "chunked.mkv", source)
        size_single = (root / "single.mkv").stat().st_size
        size_chunk = (root / "chunked.mkv").stat().st_size
    print(f"P = {cores}, {args.seconds} s {args.size}, x264 veryfast CRF 23, {args.rounds} rounds")
    print(f"single-pass median   {single:.2f} s")
    print(f"chunked median       {chunk:.2f} s   ratio of the medians {chunk / single:.3f}")
    shown = ", ".join(f"{r:.3f}" for r in ratios)
    print(f"side-by-side ratios  {shown}: median {paired:.3f} (target <= 1.05)")
    print(f"serial tail median   {tail:.2f} s = {100 * tail / single:.1f}% of single (<= 2%)")
    print(f"SSIM single {s_single:.5f}  chunked {s_chunk:.5f}  diff {s_chunk - s_single:+.5f}")
    print(
        f"size single {size_single} B  chunked {size_chunk} B  "
        f"{100 * (size_chunk - size_single) / size_single:+.2f}% (target <= +2%)"
    )
    print(f"chunked / single-pass wall time: {paired:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
