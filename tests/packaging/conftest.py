"""What the image installs, rebuilt here without a container runtime.

``cluster_venv`` makes the image's virtual environment the way the Containerfile's build stage
does: a build venv from ``requirements/build.txt``, a venv without pip, ``requirements/cluster.txt``
installed with ``--require-hashes --no-deps --only-binary :all:``, the project built as a wheel
by the locked setuptools from the files ``.dockerignore`` admits, and ffmpeg linked onto its
``bin``. Wheels come from pip's cache (~/.cache/pip), so after the first run it takes seconds.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_TOOLS
from tests.integration.conftest import redis_server_binary, redis_server_url

__all__ = [
    "REPO",
    "LockedVenv",
    "cluster_venv",
    "redis_server_binary",
    "redis_server_url",
    "run_pip",
]

REPO = Path(__file__).resolve().parents[2]

BUILD_CONTEXT = ("pyproject.toml", "README.md", "clustercode", "pipelines", "tui")
"""What .dockerignore admits besides requirements/ (checked in test_containerfile)."""

_PIP_QUIET = ("--quiet", "--disable-pip-version-check", "--no-input")
_LOCKED = ("--require-hashes", "--no-deps", "--only-binary", ":all:")


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedVenv:
    """The image's venv, rebuilt in a temporary directory.

    Attributes:
        root: the venv (``/opt/clustercode`` in the image).
        env: the image's environment for commands run from it (its ``bin`` first on PATH,
            ``CLUSTERCODE_FFMPEG`` pinned, no PYTHONPATH leaking the source tree in).
    """

    root: Path
    env: Mapping[str, str]

    @property
    def bin(self) -> Path:
        """The venv's ``bin`` directory."""
        return self.root / "bin"

    def run(
        self, *argv: str, env: Mapping[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command of the venv with the image's environment; never raises on failure."""
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def python(self, code: str) -> str:
        """Output of ``python -c CODE`` in the venv (fails the test on an error)."""
        done = self.run("python", "-c", code)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def _clean_env() -> dict[str, str]:
    """This process's environment without what would let the source tree leak into a venv."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "CLUSTERCODE_", "VIRTUAL_ENV", "PIP_"))
    }


def run_pip(pip: Path, *args: str) -> None:
    """Run pip quietly in a clean environment; skip (fail in CI) when no registry answers."""
    done = subprocess.run(
        [str(pip), *_PIP_QUIET, *args],
        env=_clean_env(),
        cwd=pip.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        message = f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        if "Could not fetch" in done.stderr or "NewConnectionError" in done.stderr:
            # No registry and an empty cache: only CI must have them.
            if REQUIRE_TOOLS:
                pytest.fail(message)
            pytest.skip(message)
        pytest.fail(message)


@pytest.fixture(scope="session")
def cluster_venv(tmp_path_factory: pytest.TempPathFactory) -> LockedVenv:
    """The image's venv: the lock's cluster requirements and the project's wheel, nothing else.

    Built once per test run: xdist workers share their run's directory (the one above their
    own), and the first one to take the lock builds it.
    """
    run_dir = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_dir = run_dir.parent
    base = run_dir / "image"
    base.mkdir(exist_ok=True)
    with (base / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "done").exists():
            _build_image_venv(base)
            (base / "done").touch()
    venv = base / "clustercode"
    env = _clean_env() | {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CLUSTERCODE_FFMPEG": str(venv / "bin" / "ffmpeg"),
        "HOME": str(base / "home"),
    }
    return LockedVenv(root=venv, env=env)


def _build_image_venv(base: Path) -> None:
    build, venv, context = base / "build", base / "clustercode", base / "src"
    for leftover in (build, venv, context, base / "dist"):
        shutil.rmtree(leftover, ignore_errors=True)
    requirements = REPO / "requirements"
    subprocess.run([sys.executable, "-m", "venv", str(build)], check=True, timeout=300)
    build_pip = build / "bin" / "pip"
    run_pip(build_pip, "install", *_LOCKED, "-r", str(requirements / "build.txt"))
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300
    )
    into_venv = ("--python", str(venv / "bin" / "python"), "install")
    run_pip(build_pip, *into_venv, *_LOCKED, "-r", str(requirements / "cluster.txt"))
    context.mkdir()
    for name in BUILD_CONTEXT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    dist = base / "dist"
    subprocess.run(
        [str(build_pip), *_PIP_QUIET, "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(dist), "."],
        cwd=context, env=_clean_env(), check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = dist.glob("clustercode-*.whl")
    run_pip(build_pip, *into_venv, "--no-deps", str(wheel))
    assert (venv / "bin" / "clustercode").is_file(), f"{wheel.name} was not installed"
    python = venv / "bin" / "python"
    ffmpeg = subprocess.run(
        [str(python), "-c", "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"],
        env=_clean_env(), capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    (venv / "bin" / "ffmpeg").symlink_to(ffmpeg)
