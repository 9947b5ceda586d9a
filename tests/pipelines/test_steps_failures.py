"""Bad sources, lost slices, failed checks, killed encoders: each fails with a reason, publishes
nothing, and re-running a step after a crash still gives an exact output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.ffmpeg import FFmpeg
from pipelines.probe import probe
from pipelines.steps._plan import Plan
from tests.pipelines.clips import ClipStore, damage_video_packet, overwrite_middle, truncate
from tests.pipelines.media_checks import frame_hashes
from tests.pipelines.step_driver import (
    StepFailedError,
    common,
    encode_all,
    lossless,
    merge,
    run_step,
    split,
    transcode,
)

PREFIX = "clustercode-step "


def _one_line(stderr: str, step: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"{PREFIX}{step}: ")
    assert "Traceback" not in stderr
    return lines[0]


def _published_nothing(directory: Path) -> None:
    assert list(directory.iterdir()) == []


def test_truncated_source_fails_at_split_with_reason(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = tmp_path / "half.mkv"
    truncate(clips("h264_open_gop"), source)

    with pytest.raises(StepFailedError) as failed:
        transcode(source, outdir / "half.mkv", lossless(1.5), tmp_path / "work")

    assert failed.value.step == "split"
    assert failed.value.returncode == 1
    line = _one_line(failed.value.stderr, "split")
    assert "is damaged" in line
    assert "File ended prematurely" in line
    _published_nothing(outdir)


def test_container_damage_fails_at_split_with_reason(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = tmp_path / "scrambled.mkv"
    overwrite_middle(clips("h264_open_gop"), source)

    with pytest.raises(StepFailedError) as failed:
        transcode(source, outdir / "scrambled.mkv", lossless(1.5), tmp_path / "work")

    assert failed.value.step == "split"
    assert "is damaged (matroska,webm: " in _one_line(failed.value.stderr, "split")
    _published_nothing(outdir)


def test_damaged_picture_fails_the_slice_that_holds_it(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = tmp_path / "bad-picture.mkv"
    # Packet 140 in decode order belongs to the last of 4 slices (frames 112-149); no other
    # slice decodes that far (a slice also decodes the lead-in from its keyframe, and a damage
    # there fails that slice too).
    damage_video_packet(clips("h264_open_gop"), source, 140)
    work = tmp_path / "work"
    settings = lossless(1.5)
    items = split(source, work, settings)

    failures = {}
    for item in items:
        done = run_step("encode", *common(source, work, settings), "--index", str(item["index"]))
        if done.returncode:
            failures[item["index"]] = _one_line(done.stderr, "encode")

    assert list(failures) == [3]
    assert failures[3].startswith(f"{PREFIX}encode: slice 3 (frames 112-149): encoding from ")
    assert not (work / "slices" / "slice_00003.mkv").exists()
    with pytest.raises(StepFailedError) as failed:
        merge(source, work, settings, outdir / "bad-picture.mkv")
    assert "1 of 4 slices are missing (index 3)" in _one_line(failed.value.stderr, "merge")
    _published_nothing(outdir)


def test_merge_with_a_missing_slice_fails_and_publishes_nothing(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = clips("h264_open_gop")
    work = tmp_path / "work"
    settings = lossless(1.5)
    encode_all(source, work, settings, split(source, work, settings))
    (work / "slices" / "slice_00001.mkv").unlink()

    with pytest.raises(StepFailedError) as failed:
        merge(source, work, settings, outdir / "out.mkv")

    line = _one_line(failed.value.stderr, "merge")
    assert "1 of 4 slices are missing (index 1)" in line
    assert "encode steps did not finish" in line
    _published_nothing(outdir)


def test_failed_verification_leaves_existing_output_untouched(
    clips: ClipStore, tmp_path: Path, outdir: Path
) -> None:
    source = clips("rich")
    work = tmp_path / "work"
    settings = lossless(2.0)
    encode_all(source, work, settings, split(source, work, settings))
    # The plan now claims the source had a third chapter: the real output cannot match.
    plan_file = work / "plan.json"
    plan = json.loads(plan_file.read_text())
    plan["source_info"]["chapters"] = 3
    plan_file.write_text(json.dumps(plan))
    # Its slices stay proven under the edited plan: only the output check can object.
    digest = Plan.from_json(plan_file.read_text()).digest
    for sidecar in (work / "slices").glob("*.json"):
        sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "plan": digest}))
    output = outdir / "rich.mkv"
    output.write_bytes(b"previous version")

    with pytest.raises(StepFailedError) as failed:
        merge(source, work, settings, output)

    line = _one_line(failed.value.stderr, "merge")
    assert line.endswith("output failed verification: expected 3 chapters, found 2")
    assert output.read_bytes() == b"previous version"
    assert [p.name for p in outdir.iterdir()] == ["rich.mkv"]
    assert not (work / "result.json").exists()


def test_source_changed_after_split_is_refused(clips: ClipStore, tmp_path: Path) -> None:
    source = tmp_path / "moving.mkv"
    source.write_bytes(clips("single_keyframe").read_bytes())
    work = tmp_path / "work"
    settings = lossless(1.0)
    split(source, work, settings)
    with source.open("ab") as handle:
        handle.write(b"\0" * 16)

    done = run_step("encode", *common(source, work, settings), "--index", "0")

    assert done.returncode == 1
    assert "source changed during the job" in _one_line(done.stderr, "encode")


def test_encode_rerun_on_a_finished_slice_is_a_no_op(clips: ClipStore, tmp_path: Path) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "work"
    settings = lossless(1.0)
    split(source, work, settings)
    progress = tmp_path / "progress"
    args = [*common(source, work, settings), "--index", "3"]
    first = run_step("encode", *args, env={"ARGO_PROGRESS_FILE": str(progress)})
    assert first.returncode == 0, first.stderr
    made = work / "slices" / "slice_00003.mkv"
    before = made.stat()
    progress.unlink()

    again = run_step("encode", *args, env={"ARGO_PROGRESS_FILE": str(progress)})

    assert again.returncode == 0
    assert again.stderr == ""
    after = made.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert progress.read_text() == "25/25"
    assert sorted(p.name for p in made.parent.iterdir()) == [
        "slice_00003.json",
        "slice_00003.mkv",
        "slice_00003.packets",
    ]


def test_killed_encoder_is_retried_and_output_is_exact(
    clips: ClipStore,
    ffmpeg: FFmpeg,
    source_hashes: Callable[[Path], list[str]],
    tmp_path: Path,
    outdir: Path,
) -> None:
    source = clips("h264_open_gop")
    work = tmp_path / "work"
    # `realtime` passes frames through unchanged at (here twice) playback speed: a slice takes
    # 1.5 s of wall time but almost no CPU, so the kill reliably lands mid-slice.
    settings = lossless(3.0, video=("-vf", "realtime=speed=2", "-c:v", "ffv1"))
    items = split(source, work, settings)
    progress = tmp_path / "progress"
    command = [sys.executable, "-m", "pipelines.steps", "encode"]
    command += [str(a) for a in common(source, work, settings)] + ["--index", "0"]
    done, total = 0, 0
    # Its own process group, as the executor runs it: the kill takes ffmpeg down too.
    with subprocess.Popen(
        command,
        env={**os.environ, "ARGO_PROGRESS_FILE": str(progress)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as step:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and step.poll() is None:
            if progress.exists():
                done, total = (int(n) for n in progress.read_text().split("/"))
                if 0 < done < total:
                    break
            time.sleep(0.05)
        os.killpg(step.pid, signal.SIGKILL)
        assert step.wait(timeout=10) == -signal.SIGKILL
    assert total == 75
    assert 0 < done < total
    assert not (work / "slices" / "slice_00000.mkv").exists()

    # The retry, then the rest of the DAG.
    retry = run_step("encode", *common(source, work, settings), "--index", "0")
    assert retry.returncode == 0, retry.stderr
    encode_all(source, work, settings, items)
    output = outdir / "out.mkv"
    merge(source, work, settings, output)

    after = probe(output)
    assert after.timeline is not None and after.timeline.frames == 150
    assert frame_hashes(ffmpeg, output) == source_hashes(source)


def test_slices_damaged_after_encoding_are_encoded_again_before_merge_publishes(
    clips: ClipStore,
    ffmpeg: FFmpeg,
    source_hashes: Callable[[Path], list[str]],
    tmp_path: Path,
    outdir: Path,
) -> None:
    source = clips("h264_open_gop")
    work = tmp_path / "work"
    settings = lossless(1.5)
    encode_all(source, work, settings, split(source, work, settings))
    slices = work / "slices"
    # A shared volume lost the end of one slice and changed bytes inside another: slice 2's
    # container stays intact, only the packet hashes can tell.
    truncated, changed = slices / "slice_00001.mkv", slices / "slice_00002.mkv"
    truncate(truncated, truncated)
    damage_video_packet(changed, changed, 10)
    assert probe(changed).timeline is not None
    before = {p: p.read_bytes() for p in (truncated, changed, slices / "slice_00000.mkv")}

    output = outdir / "out.mkv"
    merge(source, work, settings, output)

    after = {p: p.read_bytes() for p in before}
    assert after[slices / "slice_00000.mkv"] == before[slices / "slice_00000.mkv"]
    assert after[truncated] != before[truncated]
    assert after[changed] != before[changed]
    assert frame_hashes(ffmpeg, output) == source_hashes(source)
    assert [p.name for p in outdir.iterdir()] == ["out.mkv"]
