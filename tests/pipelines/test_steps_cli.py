"""The step command line: exit codes, one-line errors, re-runnable steps, progress reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipelines.ffmpeg import FFmpeg
from pipelines.settings import EncodeSettings
from pipelines.steps.__main__ import main
from tests.pipelines.clips import ClipStore
from tests.pipelines.step_driver import common, lossless, run_step, split

SETTINGS = EncodeSettings(video=("-c:v", "ffv1"), slice_seconds=1.0)


def _line(done: subprocess.CompletedProcess[str], step: str, code: int) -> str:
    assert done.returncode == code
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"clustercode-step {step}: ")
    return lines[0]


def test_missing_argument_is_a_usage_error(tmp_path: Path) -> None:
    done = run_step(
        "encode",
        "--source",
        tmp_path / "a.mkv",
        "--work",
        tmp_path,
        "--settings",
        SETTINGS.to_json(),
    )
    assert "--index" in _line(done, "encode", 2)


def test_bad_settings_json_is_a_usage_error(tmp_path: Path) -> None:
    done = run_step(
        "split",
        *("--source", tmp_path / "a.mkv", "--work", tmp_path, "--settings", '{"audio": 1}'),
        *("--slices-out", tmp_path / "s.json"),
    )
    assert "invalid encode settings" in _line(done, "split", 2)


def test_unknown_step_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["transcode"])
    assert stopped.value.code == 2


def test_missing_source_fails_with_reason(tmp_path: Path) -> None:
    source = tmp_path / "nowhere.mkv"
    done = run_step(
        "split", *common(source, tmp_path / "w", SETTINGS), "--slices-out", tmp_path / "s.json"
    )
    line = _line(done, "split", 1)
    assert line.endswith(f"cannot read {source}: No such file or directory")


def test_source_without_video_fails_with_reason(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    source = tmp_path / "tone.mka"
    tone = ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "flac"]
    subprocess.run([ffmpeg.path, "-v", "error", *tone, str(source)], check=True)
    done = run_step(
        "split", *common(source, tmp_path / "w", SETTINGS), "--slices-out", tmp_path / "s.json"
    )
    assert _line(done, "split", 1).endswith(f"{source} has no video stream to transcode")


def test_not_media_fails_with_reason(tmp_path: Path) -> None:
    source = tmp_path / "notes.mkv"
    source.write_text("these are not pictures\n" * 50)
    done = run_step(
        "split", *common(source, tmp_path / "w", SETTINGS), "--slices-out", tmp_path / "s.json"
    )
    assert f"cannot open {source} as media" in _line(done, "split", 1)


def test_encode_before_split_says_so(clips: ClipStore, tmp_path: Path) -> None:
    source = clips("single_keyframe")
    done = run_step("encode", *common(source, tmp_path / "w", SETTINGS), "--index", "0")
    assert "run the split step first" in _line(done, "encode", 1)


def test_slice_index_out_of_range(clips: ClipStore, tmp_path: Path) -> None:
    source = clips("single_keyframe")
    work = tmp_path / "w"
    split(source, work, SETTINGS)
    done = run_step("encode", *common(source, work, SETTINGS), "--index", "4")
    assert _line(done, "encode", 1).endswith("slice index 4 out of range: the plan has 4 slices")


def test_split_writes_plan_and_longest_first_fanout(clips: ClipStore, tmp_path: Path) -> None:
    source = clips("mpegts_offset")
    work = tmp_path / "w"
    out = tmp_path / "slices.json"

    for _ in range(2):  # re-running split is harmless and gives the same plan
        done = run_step("split", *common(source, work, lossless(1.4)), "--slices-out", out)
        assert done.returncode == 0 and done.stderr == ""

    items = json.loads(out.read_text())
    assert [i["index"] for i in items] == [1, 3, 0, 2]
    assert [i["frames"] for i in items] == [38, 38, 37, 37]
    plan = json.loads((work / "plan.json").read_text())
    assert plan["frames"] == 150
    assert plan["start_time"] == pytest.approx(11.376778, abs=1e-6)
    assert plan["source_info"]["discontinuous"] is True
    first = plan["slices"][0]
    assert (first["seek"], first["cut"], first["first_frame"]) == (None, None, 0)
    assert sum(s["duration"] for s in plan["slices"]) == pytest.approx(5.005, abs=1e-6)


def test_progress_file_counts_frames(clips: ClipStore, tmp_path: Path) -> None:
    source = clips("h264_open_gop")
    work = tmp_path / "w"
    settings = lossless(1.5, video=("-vf", "realtime=speed=2", "-c:v", "ffv1"))
    split(source, work, settings)
    progress = tmp_path / "progress"
    watcher = subprocess.Popen(
        ["sh", "-c", f"while :; do cat {progress} 2>/dev/null; echo; sleep 0.1; done"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        done = run_step(
            "encode",
            *common(source, work, settings),
            "--index",
            "1",
            env={"ARGO_PROGRESS_FILE": str(progress)},
        )
    finally:
        watcher.kill()
        seen, _ = watcher.communicate()
    assert done.returncode == 0, done.stderr
    assert progress.read_text() == "38/38"
    values = [line for line in seen.splitlines() if line]
    partial = {v for v in values if v != "38/38"}
    assert partial, "no report while the slice was encoding"
    assert all(0 <= int(v.split("/")[0]) < 38 and v.endswith("/38") for v in partial)


def test_cleanup_removes_work_and_tolerates_missing(tmp_path: Path) -> None:
    work = tmp_path / "w"
    (work / "slices").mkdir(parents=True)
    (work / "slices" / "slice_00000.mkv").write_bytes(b"x")

    assert run_step("cleanup", "--work", work).returncode == 0
    assert not work.exists()
    again = run_step("cleanup", "--work", work)
    assert (again.returncode, again.stderr) == (0, "")


def test_cleanup_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "precious.mkv"
    target.write_bytes(b"keep me")
    done = run_step("cleanup", "--work", target)
    assert "is not a directory" in _line(done, "cleanup", 1)
    assert target.read_bytes() == b"keep me"
