"""The ffmpeg check: the binary under test passes the self-test with the spellings it
understands, results are cached per binary, a release below the floor and a missing encoder
stop a step with exit status 3 and one line that says what to do."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pipelines import _ffmpeg_cache, ffmpeg_selftest
from pipelines.ffmpeg import (
    FFMPEG_ENV,
    FFmpeg,
    check_binary,
    named_release,
    read_version,
)
from pipelines.settings import EncodeSettings
from pipelines.steps.errors import EXIT_ENVIRONMENT
from tests.conftest import REQUIRE_TOOLS
from tests.pipelines.clips import ClipStore
from tests.pipelines.step_driver import common, run_step

OLD_FFMPEG_ENV = "CLUSTERCODE_TEST_OLD_FFMPEG"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(_ffmpeg_cache.CACHE_ENV, str(directory))
    return directory


@pytest.fixture(scope="module")
def old_ffmpeg() -> str:
    """An ffmpeg older than the floor (CI: 4.2.2 from the imageio-ffmpeg 0.4.9 wheel)."""
    path = os.environ.get(OLD_FFMPEG_ENV)
    if not path:
        message = f"{OLD_FFMPEG_ENV} names no ffmpeg older than 5.1"
        if REQUIRE_TOOLS:
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_binary_under_test_passes_and_says_how_to_run_it(ffmpeg: FFmpeg, cache: Path) -> None:
    result = check_binary(ffmpeg.path)

    assert result.usable, result.problem
    assert result.problem is None
    assert result.release is None or result.release >= (5, 1)
    assert {"ffv1", "libx264", "libx265"} <= result.encoders
    # The spelling that passed is the one this release accepts.
    if result.release is not None and result.release < (7, 0):
        assert result.dialect.enc_time_base == "-1"
    if result.release is not None and result.release >= (9, 0):
        assert result.dialect.enc_time_base == "demux"
    assert result.dialect == ffmpeg.dialect
    assert dict(result.env) == dict(ffmpeg.env)


def test_result_is_cached_per_binary_and_redone_when_it_changes(
    ffmpeg: FFmpeg, cache: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "bin" / "ffmpeg"
    copy.parent.mkdir()
    shutil.copy2(ffmpeg.path, copy)

    first = check_binary(str(copy))
    stored = json.loads((cache / _ffmpeg_cache.CACHE_NAME).read_text())
    entry = stored["binaries"][str(copy.resolve())]
    assert entry["result"]["usable"] is True
    assert entry["identity"]["size"] == copy.stat().st_size
    # A cached result is returned as stored: mark it to see that no new check ran.
    entry["result"]["seconds"] = 123.0
    (cache / _ffmpeg_cache.CACHE_NAME).write_text(json.dumps(stored))
    assert check_binary(str(copy)).seconds == 123.0

    os.utime(copy, ns=(0, copy.stat().st_mtime_ns + 1_000_000_000))
    again = check_binary(str(copy))

    assert again.seconds != 123.0
    assert (again.usable, again.dialect, again.version) == (
        first.usable,
        first.dialect,
        first.version,
    )


def test_self_test_fails_on_a_spelling_the_binary_rejects(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    wrong = ffmpeg.dialect.__class__(fps_mode="-fps_mode", enc_time_base="no-such-base")
    with pytest.raises(ffmpeg_selftest.AttemptFailedError) as failed:
        ffmpeg_selftest.attempt(ffmpeg.path, tmp_path, wrong, ffmpeg.env)
    assert "slice 0 of the ts test clip" in str(failed.value)


def test_release_below_the_floor_is_refused_with_one_line(
    old_ffmpeg: str, cache: Path, clips: ClipStore, tmp_path: Path
) -> None:
    version, release = read_version(old_ffmpeg)
    assert release is not None and release < (5, 1)
    source = clips("single_keyframe")
    settings = EncodeSettings(video=("-c:v", "ffv1"), slice_seconds=1.0)
    work = tmp_path / "work"

    done = run_step(
        "split",
        *common(source, work, settings),
        "--slices-out",
        tmp_path / "s.json",
        env={FFMPEG_ENV: old_ffmpeg},
    )

    assert done.returncode == EXIT_ENVIRONMENT
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0] == (
        f"clustercode-step split: no usable ffmpeg: ffmpeg {old_ffmpeg} ({version}, "
        f"{FFMPEG_ENV}) is older than 5.1, the oldest supported release; unset {FFMPEG_ENV} "
        "to use the bundled ffmpeg (imageio-ffmpeg) or point it to an ffmpeg 5.1 or newer "
        "(clustercode doctor checks it)"
    )
    assert not work.exists()
    assert not (tmp_path / "s.json").exists()


def test_encoder_missing_from_the_build_stops_split_with_exit_3(
    clips: ClipStore, tmp_path: Path
) -> None:
    source = clips("single_keyframe")
    settings = EncodeSettings(video=("-c:v", "libnosuchcodec"), slice_seconds=1.0)
    work = tmp_path / "work"

    done = run_step("split", *common(source, work, settings), "--slices-out", tmp_path / "s.json")

    assert done.returncode == EXIT_ENVIRONMENT
    line = done.stderr.strip()
    assert line.startswith("clustercode-step split: encoder libnosuchcodec is not in ffmpeg ")
    assert "CLUSTERCODE_FFMPEG=" in line
    assert not work.exists()


def test_version_strings_of_real_builds() -> None:
    assert named_release("ffmpeg version 5.1.9-0+deb12u1 Copyright (c)") == (5, 1)
    assert named_release("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright") == (9, 0)
    assert named_release("ffmpeg version 7.0.2-static https://johnvansickle.com/") == (7, 0)
    assert named_release("ffmpeg version 4.2.2-static https://johnvansickle.com/") == (4, 2)
    assert named_release("ffmpeg version N-118000-gdeadbeef Copyright") is None


def test_crash_workaround_is_used_exactly_where_needed(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    # Static builds on an old glibc crash reading MPEG-TS without it (7.0.2 on Debian 12);
    # any other binary passes without it, and then the check adds nothing.
    if ffmpeg.env:
        assert dict(ffmpeg.env) == {"GCONV_PATH": ""}
        with pytest.raises(ffmpeg_selftest.AttemptFailedError) as failed:
            ffmpeg_selftest.attempt(ffmpeg.path, tmp_path, ffmpeg.dialect, {})
        assert failed.value.crashed
        assert "crashed (SIGSEGV)" in str(failed.value)
    else:
        ffmpeg_selftest.attempt(ffmpeg.path, tmp_path, ffmpeg.dialect, {})
