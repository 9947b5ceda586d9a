"""``clustercode run`` end to end: real processes, real ffmpeg, the embedded Redis."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import imageio_ffmpeg
import pytest

from pipelines.ffmpeg import ffmpeg_path
from tests.integration.serve_process import make_clip
from tests.pipelines.clips import h264_open_gop, overwrite_middle, variable_frame_rate

FAST_PROFILE = 'video: [-c:v, libx264, -preset, ultrafast, -crf, "30"]\naudio: copy\n'


def frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mkv"
    h264_open_gop(ffmpeg_path(), path)
    return path


@pytest.fixture(scope="module")
def other_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "vfr.mkv"
    variable_frame_rate(ffmpeg_path(), path)
    return path


class Setup:
    def __init__(self, root: Path, clip: Path) -> None:
        self.root = root
        self.library = root / "library"
        self.output = root / "out"
        self.state = root / "state"
        self.profiles = root / "profiles"
        self.profiles.mkdir()
        (self.profiles / "fast.yaml").write_text(FAST_PROFILE)
        (self.library / "films").mkdir(parents=True)
        (self.library / "shows").mkdir()
        self.clip = clip

    def add(self, relative: str, clip: Path | None = None) -> Path:
        target = self.library / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((clip or self.clip).read_bytes())
        return target

    def cli(
        self, *args: str, check_code: int | None = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "CLUSTERCODE_SETTLE_SECONDS": "0",
            "CLUSTERCODE_RETRY_BACKOFF": "0",
            **(env or {}),
        }
        result = subprocess.run(
            [sys.executable, "-m", "clustercode", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        if check_code is not None:
            assert result.returncode == check_code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def run(
        self, *extra: str, code: int = 0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cli(
            "run",
            str(self.library),
            str(self.output),
            "--state-dir",
            str(self.state),
            "--profiles",
            str(self.profiles),
            "--profile",
            "fast",
            "--slice-seconds",
            "2",
            "--parallel",
            "2",
            "--max-attempts",
            "2",
            "--no-progress",
            *extra,
            check_code=code,
            env=env,
        )

    def history(self, *args: str) -> list[dict[str, object]]:
        out = self.cli("history", "list", "--json", "--state-dir", str(self.state), *args)
        return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture
def setup(tmp_path: Path, clip: Path) -> Setup:
    return Setup(tmp_path, clip)


def test_run_twice_then_delete_and_rename(setup: Setup, other_clip: Path) -> None:
    setup.add("films/a.mkv")
    setup.add("shows/b.mkv", other_clip)
    setup.add("shows/copy-of-a.mkv")
    first = setup.run()
    # The copy has the same content as a.mkv: one job serves both. Jobs start while the scan
    # goes on, so by the time the copy is reached that job may already run.
    assert re.search(r"2 new, 1 (queued|running)\b", first.stdout), first.stdout
    assert "2 succeeded" in first.stdout
    out_a = setup.output / "films" / "a.mkv"
    out_b = setup.output / "shows" / "b.mkv"
    assert frames(out_a) == frames(setup.clip) == 150
    assert frames(out_b) == frames(other_clip) > 0
    stamp = out_a.stat().st_mtime_ns

    second = setup.run()
    assert "3 done" in second.stdout
    assert "nothing to transcode" in second.stdout
    assert out_a.stat().st_mtime_ns == stamp
    jobs = setup.history("--state", "succeeded")
    assert sorted(Path(str(j["source"])).name for j in jobs) == ["a.mkv", "b.mkv"]

    # Deleting the history entry (by the source's path) makes the next run redo the file.
    (setup.library / "shows" / "copy-of-a.mkv").unlink()
    deleted = setup.cli(
        "history", "delete", str(setup.library / "films" / "a.mkv"), "--state-dir", str(setup.state)
    )
    assert "deleted" in deleted.stdout
    third = setup.run()
    assert "1 new, 1 done" in third.stdout
    assert out_a.stat().st_mtime_ns != stamp
    assert frames(out_a) == 150

    # A renamed file keeps its content key: not redone.
    (setup.library / "shows" / "b.mkv").rename(setup.library / "shows" / "b-renamed.mkv")
    fourth = setup.run()
    assert "2 done" in fourth.stdout
    assert not (setup.output / "shows" / "b-renamed.mkv").exists()


def test_corrupt_file_is_parked_with_reason(setup: Setup) -> None:
    broken = setup.library / "films" / "broken.mkv"
    overwrite_middle(setup.clip, broken, size=20000)
    result = setup.run(code=1)
    assert "1 parked" in result.stdout
    parked = setup.history("--state", "parked")
    assert len(parked) == 1
    assert parked[0]["attempts"] == 2
    error = str(parked[0]["error"])
    assert error.startswith("parked after 2 attempts:")
    assert len(error) > len("parked after 2 attempts: ") + 10
    assert not list(setup.output.rglob("*.mkv"))
    assert not [p for p in setup.output.rglob("*") if p.is_file()]
    # Parked files stay parked: the next run does not try again, and exits 1 again.
    again = setup.run(code=1)
    assert "1 parked" in again.stdout
    assert "done: 1 parked earlier (clustercode history retry --state parked)" in again.stdout
    assert setup.history("--state", "parked")[0]["attempts"] == 2


def test_output_inside_library_is_never_scanned_and_skip_rules_apply(
    tmp_path: Path, clip: Path, other_clip: Path
) -> None:
    setup = Setup(tmp_path, clip)
    setup.output = setup.library / "transcoded"
    setup.add("films/a.mkv")
    setup.add("shows/b.mkv", other_clip)
    (setup.library / "shows" / ".clustercode.yaml").write_text("skip:\n  codecs: [h264]\n")
    first = setup.run()
    assert "1 new" in first.stdout and "1 skipped" in first.stdout
    assert "already h264" in first.stdout
    assert (setup.output / "films" / "a.mkv").exists()
    second = setup.run()
    assert "1 done" in second.stdout and "1 skipped" in second.stdout
    assert "new" not in second.stdout.split("\n")[0]


def test_bad_arguments_are_one_line_errors(setup: Setup) -> None:
    # Bad arguments, config or profiles are usage errors: exit status 2, like argparse's own.
    assert setup.cli("run", check_code=2).stderr.startswith("clustercode: settings: libraries")
    assert setup.cli("run", "--parallel", "x", check_code=2).stderr.startswith("usage: ")
    result = setup.cli("run", str(setup.library), check_code=2)
    assert result.stderr.startswith("clustercode: ")
    assert "output" in result.stderr
    blocked = setup.root / "a-file"
    blocked.write_text("not a folder")
    result = setup.cli("run", str(setup.library), str(blocked / "out"), check_code=2)
    assert result.stderr.startswith(f"clustercode: cannot create {blocked / 'out'}: ")
    assert len(result.stderr.splitlines()) == 1
    missing = setup.root / "no-such-library"
    result = setup.cli("run", str(missing), str(setup.output), check_code=2)
    assert result.stderr == f"clustercode: library root {missing}: no such directory\n"
    (setup.profiles / "broken.yaml").write_text("video: [-c:v, libx264]\ncrff: 3\n")
    result = setup.cli(
        "run",
        str(setup.library),
        str(setup.output),
        "--state-dir",
        str(setup.state),
        "--profiles",
        str(setup.profiles),
        check_code=2,
    )
    assert "broken.yaml line 2" in result.stderr
    assert "crff" in result.stderr


def test_interrupt_cancels_cleanly(setup: Setup, tmp_path: Path) -> None:
    big = tmp_path / "big.mkv"
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-v", "error", "-f", "lavfi",
         "-i", "testsrc2=size=640x360:rate=25:duration=20", "-f", "lavfi",
         "-i", "sine=duration=20", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         str(big)],
        check=True,
    )  # fmt: skip
    setup.add("films/big.mkv", big)
    (setup.profiles / "fast.yaml").write_text(
        'video: [-c:v, libx264, -preset, veryslow, -crf, "18"]\naudio: copy\n'
    )
    env = {**os.environ, "CLUSTERCODE_SETTLE_SECONDS": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "clustercode", "run", str(setup.library), str(setup.output),
         "--state-dir", str(setup.state), "--profiles", str(setup.profiles), "--profile", "fast",
         "--slice-seconds", "5", "--parallel", "2", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if ": running" in line or "%" in line:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert "1 cancelled" in out
    assert "Traceback" not in err
    jobs = setup.history("--state", "cancelled")
    assert len(jobs) == 1 and jobs[0]["error"] == "cancelled"
    assert not [p for p in setup.output.rglob("*") if p.is_file()]
    work = setup.state / "work"
    assert not work.exists() or not list(work.iterdir())


def test_in_place_replaces_after_verification_and_is_not_redone(setup: Setup) -> None:
    source = setup.add("films/a.mkv")
    before = source.read_bytes()
    env_in_place = {"CLUSTERCODE_IN_PLACE": "true"}
    args = [
        "run", str(setup.library), "--state-dir", str(setup.state), "--profiles",
        str(setup.profiles), "--profile", "fast", "--slice-seconds", "2", "--no-progress",
    ]  # fmt: skip
    first = setup.cli(*args, env=env_in_place)
    assert "1 new" in first.stdout and "1 succeeded" in first.stdout
    assert source.read_bytes() != before
    assert frames(source) == 150
    assert [p.name for p in source.parent.iterdir()] == ["a.mkv"]
    second = setup.cli(*args, env=env_in_place)
    assert "1 done" in second.stdout and "nothing to transcode" in second.stdout


def test_ffmpeg_below_the_floor_stops_run_before_touching_anything(setup: Setup) -> None:
    old = os.environ.get("CLUSTERCODE_TEST_OLD_FFMPEG")
    if not old:
        if os.environ.get("CLUSTERCODE_REQUIRE_TOOLS") == "1":
            pytest.fail("CLUSTERCODE_TEST_OLD_FFMPEG names no ffmpeg older than 5.1")
        pytest.skip("CLUSTERCODE_TEST_OLD_FFMPEG names no ffmpeg older than 5.1")
    setup.add("films/a.mkv")

    result = setup.cli(
        "run",
        str(setup.library),
        str(setup.output),
        "--state-dir",
        str(setup.state),
        check_code=1,
        env={"CLUSTERCODE_FFMPEG": old},
    )

    first = result.stderr.splitlines()[0]
    assert first.startswith(f"clustercode: no usable ffmpeg: ffmpeg {old} (4.2.2")
    assert "older than 5.1" in first
    assert "CLUSTERCODE_FFMPEG" in first
    assert result.stdout == ""
    assert not setup.output.exists()
    assert not setup.state.exists()


def test_missing_encoder_pauses_without_using_an_attempt(setup: Setup) -> None:
    (setup.profiles / "fast.yaml").write_text("video: [-c:v, libnosuchcodec]\naudio: copy\n")
    setup.add("films/a.mkv")

    result = setup.run(code=1)

    assert "stopped, no file counted as failed" in result.stderr
    assert "encoder libnosuchcodec is not in ffmpeg" in result.stderr
    jobs = setup.history()
    assert [(j["state"], j["attempts"]) for j in jobs] == [("queued", 0)]
    assert "no attempt used" in str(jobs[0]["error"])
    assert not setup.history("--state", "parked")
    assert not [p for p in setup.output.rglob("*") if p.is_file()]


def test_files_still_changing_are_reported_and_done_by_the_next_run(
    setup: Setup, other_clip: Path
) -> None:
    # Long enough to outlast the start of a `clustercode run` on a busy machine.
    env = {
        "CLUSTERCODE_SETTLE_SECONDS": "15",
        "CLUSTERCODE_FFMPEG": imageio_ffmpeg.get_ffmpeg_exe(),
    }
    a = setup.add("films/a.mkv")
    b = setup.add("shows/b.mkv", other_clip)  # both just copied: still settling
    first = setup.run(env=env)
    assert re.fullmatch(
        r"scanned 0 files in [\d.]+ s: no media files ready", first.stdout.splitlines()[0]
    )
    assert (
        "still changing: 2 files modified in the last 15 s were left out: run again in 15 s, "
        "or use --wait-settle to wait for them"
    ) in first.stdout
    assert "done: 2 still changing (run again)" in first.stdout
    assert not list(setup.output.rglob("*.mkv"))

    # The settle time passes (the files are left alone for a minute).
    for path in (a, b):
        os.utime(path, (time.time() - 60, time.time() - 60))
    second = setup.run(env=env)
    assert "2 new" in second.stdout and "still changing" not in second.stdout
    assert "done: 2 succeeded" in second.stdout
    assert frames(setup.output / "films" / "a.mkv") == frames(setup.clip)

    # --wait-settle waits for a file copied just now, then transcodes it in the same run.
    third_clip = make_clip(setup.root / "third.mkv", duration=2.0)
    setup.add("films/c.mkv", third_clip)
    third = setup.run("--wait-settle", "120", env=env)
    assert "waiting 15 s for 1 file(s) still changing" in third.stdout
    assert "done: 1 succeeded" in third.stdout
    assert frames(setup.output / "films" / "c.mkv") == frames(third_clip) == 50

    # The same history with a new output root: nothing is redone, and the run says where the
    # outputs are.
    setup.output = setup.root / "elsewhere"
    fourth = setup.run(env=env)
    assert "3 done" in fourth.stdout
    assert (
        f"done: 3 files already done earlier; their outputs are not under {setup.output} but "
        f"e.g. at {setup.root / 'out'}"
    ) in fourth.stdout
    verbose = setup.run("-v", env=env)
    source, output = setup.library / "films" / "a.mkv", setup.root / "out" / "films" / "a.mkv"
    assert f"done: {source} -> {output}" in verbose.stdout
