"""The join: slices are trusted for their sidecars and records, and proven as the mux reads them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.steps._ffmpeg_run import input_start_time
from pipelines.steps._proof import proof_path
from pipelines.steps._starts import START_NAMES, start_time
from tests.pipelines.clips import ClipStore
from tests.pipelines.step_driver import StepFailedError, encode_all, lossless, merge, split


def _edit_sidecar(work: Path, index: int, **changes: object) -> None:
    path = proof_path(work, index)
    raw = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    path.write_text(json.dumps(raw), encoding="utf-8")


def test_slices_of_another_codec_setup_are_not_joined(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))
    recorded = json.loads(proof_path(work, 0).read_text(encoding="utf-8"))
    assert recorded["codec"] == "ffv1"
    # As if another node's encoder had written other parameter sets for slice 1.
    _edit_sidecar(work, 1, extradata="45:0123456789abcdef0123456789abcdef")

    with pytest.raises(StepFailedError) as failed:
        merge(source, work, settings, outdir / "out.mkv")

    assert failed.value.returncode == 1
    assert "slice 1 was encoded with different codec parameters than slice 0" in (
        failed.value.stderr
    )
    assert list(outdir.iterdir()) == []


def test_a_slice_recorded_without_its_codec_setup_is_encoded_again(
    clips: ClipStore, tmp_path: Path, outdir: Path, source_hashes: Callable[[Path], list[str]]
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))
    slice_0 = work / "slices" / "slice_00000.mkv"
    before = slice_0.stat().st_mtime_ns
    # A sidecar of an earlier release names no codec setup: its slice cannot be joined safely.
    _edit_sidecar(work, 0, codec=None, extradata=None)

    merge(source, work, settings, outdir / "out.mkv")

    assert slice_0.stat().st_mtime_ns != before  # written again
    assert json.loads(proof_path(work, 0).read_text(encoding="utf-8"))["codec"] == "ffv1"
    assert source_hashes(outdir / "out.mkv") == source_hashes(source)


def test_the_source_start_time_split_recorded_counts_only_for_the_same_file(
    clips: ClipStore, tmp_path: Path
) -> None:
    source = tmp_path / "source.ts"
    source.write_bytes(clips("mpegts_offset").read_bytes())
    work = tmp_path / "work"
    split(source, work, lossless(1.0))
    asked = input_start_time(source)
    assert asked is not None and asked > 1.0  # the clip starts about 11.4 s in
    sidecar = work / START_NAMES["source"]
    assert json.loads(sidecar.read_text(encoding="utf-8"))["start"] == asked
    assert start_time(work, "source", source) == asked

    # The kept answer is the one used: a different one shows through...
    raw = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**raw, "start": 42.5}), encoding="utf-8")
    assert start_time(work, "source", source) == 42.5
    # ...but only for the file it was asked about, as read by the same binary.
    sidecar.write_text(json.dumps({**raw, "start": 42.5, "ffmpeg": ["other"]}), encoding="utf-8")
    assert start_time(work, "source", source) == asked
    sidecar.write_text(json.dumps({**raw, "start": 42.5}), encoding="utf-8")
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert start_time(work, "source", source) == asked
    sidecar.write_text("not json", encoding="utf-8")
    assert start_time(work, "source", source) == asked
