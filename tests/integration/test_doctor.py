"""``clustercode doctor``: what the machine has, and a non-zero exit when something needed is
missing (a release below the floor, an encoder a profile names, an unreachable Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_TOOLS


def doctor(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    command = [sys.executable, "-m", "clustercode", "doctor"]
    done = subprocess.run(
        [*command, "--state-dir", str(tmp_path / "state"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def rows(report: str) -> list[tuple[str, str, str]]:
    found = []
    for line in report.splitlines():
        topic, status, detail = line.split(maxsplit=2)
        found.append((topic, status, detail))
    return found


def test_reports_ffmpeg_encoders_redis_and_executor(tmp_path: Path) -> None:
    code, report = doctor(tmp_path)

    assert code == 0, report
    lines = rows(report)
    assert lines[0][:2] == ("ffmpeg", "ok")
    assert lines[0][2].endswith(" in use")
    assert lines[1][:2] == ("self-test", "ok")
    encoders = {detail.split()[0]: status for topic, status, detail in lines if topic == "encoder"}
    assert encoders["libx264"] == encoders["libx265"] == encoders["ffv1"] == "ok"
    assert "libsvtav1" in encoders
    families = [detail.split(":")[0] for topic, _, detail in lines if topic == "hardware"]
    assert families == ["nvenc", "qsv", "vaapi"]
    assert ("redis", "ok") in [(t, s) for t, s, _ in lines]
    assert ("executor", "ok") in [(t, s) for t, s, _ in lines]


def test_encoder_a_configured_profile_needs_is_missing(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "exotic.yaml").write_text("video: [-c:v, libnosuchcodec]\n")

    code, report = doctor(tmp_path, "--profiles", str(profiles))

    assert code == 1
    assert (
        "encoder",
        "missing",
        "libnosuchcodec (profile exotic): not in this ffmpeg; jobs with it cannot run",
    ) in rows(report)


def test_unreachable_redis_fails(tmp_path: Path) -> None:
    code, report = doctor(tmp_path, "--redis-url", "redis://127.0.0.1:1/0")

    assert code == 1
    assert [status for topic, status, _ in rows(report) if topic == "redis"] == ["failed"]


def test_ffmpeg_below_the_floor_fails(tmp_path: Path) -> None:
    old = os.environ.get("CLUSTERCODE_TEST_OLD_FFMPEG")
    if not old:
        message = "CLUSTERCODE_TEST_OLD_FFMPEG names no ffmpeg older than 5.1"
        if REQUIRE_TOOLS:
            pytest.fail(message)
        pytest.skip(message)

    code, report = doctor(tmp_path, env={"CLUSTERCODE_FFMPEG": old})

    assert code == 1
    lines = rows(report)
    assert lines[0] == ("ffmpeg", "failed", f"{old} (4.2.2-static, CLUSTERCODE_FFMPEG)")
    assert lines[1][:2] == ("self-test", "failed")
    assert "older than 5.1" in lines[1][2]
    assert ("ffmpeg", "missing") in [(t, s) for t, s, _ in lines]
