"""Work is reused only under the same plan and source version; nothing else reaches an output."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.identity import NAME_MAX, fit_name
from pipelines.steps._atomic import temp_path
from pipelines.steps._plan import Plan, load_plan
from pipelines.steps._proof import slice_is_proven
from pipelines.steps.merge import output_temp_path
from tests.pipelines.clips import ClipStore
from tests.pipelines.step_driver import (
    StepFailedError,
    encode_all,
    lossless,
    merge,
    run_step,
    split,
)


def _stats(work: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (work / "slices").iterdir()}


def _one_line(stderr: str, step: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"clustercode-step {step}: ")
    return lines[0].removeprefix(f"clustercode-step {step}: ")


def test_a_second_split_of_the_same_plan_keeps_proven_slices(
    clips: ClipStore, tmp_path: Path
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    items = split(source, work, settings)
    encode_all(source, work, settings, items)
    before = _stats(work)
    assert len([name for name in before if name.endswith(".json")]) == len(items)

    encode_all(source, work, settings, split(source, work, settings))

    assert _stats(work) == before  # nothing encoded again


def test_other_settings_discard_the_slices_of_the_earlier_plan(
    clips: ClipStore, tmp_path: Path
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    encode_all(source, work, lossless(1.0), split(source, work, lossless(1.0)))

    other = lossless(1.0, video=("-c:v", "ffv1", "-level", "1"))
    split(source, work, other)

    assert not (work / "slices").exists()


def test_a_slice_changed_after_its_check_is_encoded_again_before_it_is_joined(
    clips: ClipStore, tmp_path: Path, outdir: Path, source_hashes: Callable[[Path], list[str]]
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))
    plan = load_plan(work, source)
    slice_1 = work / "slices" / "slice_00001.mkv"
    data = bytearray(slice_1.read_bytes())
    data[-100] ^= 0xFF
    slice_1.write_bytes(bytes(data))
    assert not slice_is_proven(work, plan, plan.slices[1])

    merge(source, work, settings, outdir / "out.mkv")

    assert slice_1.read_bytes() != bytes(data)
    assert slice_is_proven(work, plan, plan.slices[1])
    assert source_hashes(outdir / "out.mkv") == source_hashes(source)


def test_merge_refuses_a_source_replaced_with_the_same_size_inode_and_mtime(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = tmp_path / "movie.mkv"
    source.write_bytes(clips("single_keyframe").read_bytes())
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))
    stat = source.stat()
    with source.open("r+b") as handle:
        handle.seek(stat.st_size // 2)
        handle.write(b"\x00" * 64)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    with pytest.raises(StepFailedError) as failed:
        merge(source, work, settings, outdir / "movie.mkv")

    line = _one_line(failed.value.stderr, "merge")
    assert line.startswith(f"source changed during the job ({source}: fingerprint ")
    assert line.endswith("it is queued again")
    assert list(outdir.iterdir()) == []
    assert not (work / "result.json").exists()


def test_the_result_proves_the_published_file(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))
    output = outdir / "out.mkv"

    result = merge(source, work, settings, output)

    stat = output.stat()
    assert (result["output_ino"], result["size_after"], result["output_mtime_ns"]) == (
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
    )
    assert result["source"]["size"] == source.stat().st_size
    assert result["plan"] == Plan.from_json((work / "plan.json").read_text()).digest


@pytest.mark.parametrize(
    ("status", "flags", "kept"),
    [
        ("Succeeded", ["--keep-result"], ["result.json"]),
        ("Succeeded", [], []),
        ("Failed", [], ["plan.json", "result.json", "slices"]),
    ],
)
def test_cleanup_keeps_what_the_next_step_needs(
    clips: ClipStore,
    tmp_path: Path,
    outdir: Path,
    status: str,
    flags: list[str],
    kept: list[str],
) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))
    merge(source, work, settings, outdir / "out.mkv")
    (work / "result.json").write_text("{}")
    (work / "slices" / ".slice_00000.tmp-1.mkv").write_bytes(b"partial")

    done = run_step("cleanup", "--work", work, "--status", status, *flags)

    assert done.returncode == 0, done.stderr
    assert (sorted(p.name for p in work.iterdir()) if work.exists() else []) == kept
    if "slices" in kept:
        assert not [p for p in (work / "slices").iterdir() if p.name.startswith(".")]


def test_temporary_names_fit_in_name_max_for_the_longest_names() -> None:
    for stem in ("a" * 251, "é" * 125, "a" * 200):
        final = Path("/out") / f"{stem}.mkv"
        assert len(final.name.encode()) <= NAME_MAX
        for temp in (temp_path(final), output_temp_path(final)):
            assert len(temp.name.encode()) <= NAME_MAX
            assert temp.parent == final.parent and temp.name.startswith(".")
        assert temp_path(final).suffix == ".mkv"
    assert fit_name("short.mkv") == "short.mkv"


def test_a_source_with_a_255_byte_name_is_transcoded(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = tmp_path / ("s" * 251 + ".mkv")
    source.write_bytes(clips("single_keyframe").read_bytes())
    work = tmp_path / "work"
    settings = lossless(1.0)
    encode_all(source, work, settings, split(source, work, settings))

    merge(source, work, settings, outdir / source.name)

    assert [p.name for p in outdir.iterdir()] == [source.name]
