"""Run the step programs as the Workflow does: separate processes, in DAG order.

split -> encode each slice (two at a time, longest first, as the fan-out would) -> [audio] ->
merge; cleanup runs at the end whatever happened, like the Workflow's exit handler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.settings import Container, EncodeSettings, StreamKeep

STEP_TIMEOUT = 120
# Decodes to exactly the source's frames and keeps the pixel format (10-bit stays 10-bit).
LOSSLESS = ("-c:v", "ffv1")


def lossless(
    slice_seconds: float,
    *,
    audio: tuple[str, ...] | None = None,
    container: Container = "mkv",
    keep: StreamKeep | None = None,
    video: tuple[str, ...] = LOSSLESS,
) -> EncodeSettings:
    """Settings for exactness tests: lossless video, one thread per slice."""
    return EncodeSettings(
        video=video,
        audio=audio,
        container=container,
        slice_seconds=slice_seconds,
        threads=1,
        keep=keep or StreamKeep(),
    )


class StepFailedError(Exception):
    """A step exited non-zero."""

    def __init__(self, step: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{step} exited {returncode}: {stderr.strip()}")
        self.step = step
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcode:
    """What a full run produced."""

    output: Path
    result: Mapping[str, Any]
    slices: Sequence[Mapping[str, int]]


def run_step(
    step: str, *args: str | Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipelines.steps STEP ARGS``; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.steps", step, *(str(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _checked(step: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    done = run_step(step, *args)
    if done.returncode != 0:
        raise StepFailedError(step, done.returncode, done.stderr)
    return done


def common(source: Path, work: Path, settings: EncodeSettings) -> list[str | Path]:
    """The arguments every source step takes."""
    return ["--source", source, "--work", work, "--settings", settings.to_json()]


def split(source: Path, work: Path, settings: EncodeSettings) -> list[dict[str, int]]:
    """Run split; returns the fan-out list."""
    slices_out = work.parent / f"{work.name}-slices.json"
    _checked("split", *common(source, work, settings), "--slices-out", slices_out)
    items: list[dict[str, int]] = json.loads(slices_out.read_text())
    return items


def encode_all(
    source: Path, work: Path, settings: EncodeSettings, items: Sequence[Mapping[str, int]]
) -> None:
    """Encode every slice, two processes at a time in the fan-out's order."""

    def one(index: int) -> None:
        _checked("encode", *common(source, work, settings), "--index", str(index))

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(one, item["index"]) for item in items]:
            future.result()


def merge(source: Path, work: Path, settings: EncodeSettings, output: Path) -> dict[str, Any]:
    """Run merge; returns its result JSON."""
    result_out = work.parent / f"{work.name}-result.json"
    _checked(
        "merge",
        *common(source, work, settings),
        "--output",
        output,
        "--result-out",
        result_out,
    )
    result: dict[str, Any] = json.loads(result_out.read_text())
    return result


def transcode(
    source: Path, output: Path, settings: EncodeSettings, work: Path, *, keep_work: bool = False
) -> Transcode:
    """The whole DAG. Raises :class:`StepFailedError` for the first failed step."""
    try:
        items = split(source, work, settings)
        encode_all(source, work, settings, items)
        if settings.audio is not None:
            _checked("audio", *common(source, work, settings))
        result = merge(source, work, settings, output)
    finally:
        if not keep_work:
            _checked("cleanup", "--work", work)
    return Transcode(output=output, result=result, slices=items)
