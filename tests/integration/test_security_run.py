"""Attacks from inside the library against ``clustercode run``: each one must fail to do harm.

A real run (real ffmpeg, the embedded Redis) over a library where someone planted ffmpeg
arguments that overwrite or read files, a companion file that is a symlink to a secret, a
symlink to media outside the library and a file name that is not UTF-8. Afterwards the victim
file is untouched, the secret appears in no output, message or stored state, nothing was written
outside the output and state roots, and the honest file next to them was transcoded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.ffmpeg import ffmpeg_path
from tests.pipelines.clips import h264_open_gop

SECRET = "TOPSECRET-4f1c9a"
FAST = 'video: [-c:v, libx264, -preset, ultrafast, -crf, "30"]\naudio: copy\n'


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.mkv"
    h264_open_gop(ffmpeg_path(), path)
    return path.read_bytes()


def _tree(root: Path, skip: tuple[Path, ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(directory, d) not in skip]
        for name in files:
            path = Path(directory, name)
            found[os.fsdecode(path)] = path.lstat().st_mtime_ns
    return found


def test_planted_arguments_links_and_names_do_no_harm(tmp_path: Path, clip: bytes) -> None:
    library, output, state = tmp_path / "lib", tmp_path / "out", tmp_path / "state"
    elsewhere, profiles = tmp_path / "elsewhere", tmp_path / "profiles"
    for directory in (library, elsewhere, profiles):
        directory.mkdir()
    (profiles / "fast.yaml").write_text(FAST)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}\n" * 3)
    attacks = {
        "overwrite": f"video: [-c:v, libx264, -f:v, rawvideo, {victim}]\n",
        "yes": f"video: [-c:v, libx264, -y, {victim}]\n",
        "drawtext": f'video: [-c:v, libx264, -vf, "drawtext=textfile={secret}:fontsize=40"]\n',
        "optfile": f'video: [-c:v, libx264, "-/vf", "{secret}"]\n',
        "report": "video: [-c:v, libx264, -report, '1']\n",
        "movie": f'video: [-c:v, libx264, -vf, "movie={secret}"]\n',
        "x264stats": f'video: [-c:v, libx264, -x264-params, "stats={victim}"]\n',
        "audio": f"video: [-c:v, libx264]\naudio: [-c:a, aac, -f, wav, {victim}]\n",
    }
    for name, text in attacks.items():
        (library / f"{name}.mkv").write_bytes(clip)
        (library / f"{name}.mkv.clustercode.yaml").write_text(text)
    (library / "small.mkv").write_bytes(clip)
    (library / "small.mkv.clustercode.yaml").symlink_to(secret)
    (elsewhere / "x.mkv").write_bytes(clip)
    (library / "link.mkv").symlink_to(elsewhere / "x.mkv")
    (library / "ok.mkv").write_bytes(clip)
    os.close(os.open(os.fsencode(library) + b"/bad\xff.mkv", os.O_CREAT | os.O_WRONLY, 0o644))
    old = 1_600_000_000
    for entry in os.scandir(os.fsencode(library)):
        os.utime(entry.path, (old, old), follow_symlinks=False)
    before = _tree(tmp_path, (output, state))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clustercode",
            "run",
            str(library),
            str(output),
            "--state-dir",
            str(state),
            "--profiles",
            str(profiles),
            "--profile",
            "fast",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "CLUSTERCODE_SETTLE_SECONDS": "0"},
    )
    messages = result.stdout + result.stderr
    assert result.returncode == 0, messages
    assert "Traceback" not in messages
    # The honest file was transcoded: the run worked, so the refusals below are the check's.
    assert (output / "ok.mkv").stat().st_size > 0
    assert sorted(p.name for p in output.iterdir()) == ["ok.mkv"]

    assert victim.read_text() == "precious\n"
    assert SECRET not in messages
    for path in _tree(output, ()) | _tree(state, ()):
        assert SECRET.encode() not in Path(path).read_bytes(), path
    for name in attacks:
        assert f"{name}.mkv.clustercode.yaml line" in messages, name
    assert "small.mkv.clustercode.yaml: a symlink that leads outside the library" in messages
    assert "not valid UTF-8" in messages
    # Nothing new or changed outside the output and state roots (no ffmpeg report either).
    assert _tree(tmp_path, (output, state)) == before
