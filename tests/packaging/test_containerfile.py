"""The Containerfile, checked without a container runtime: hadolint, pinned bases, the build
context, and labels that name the locked FFmpeg and PyAV."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.conftest import require_tool
from tests.packaging.conftest import BUILD_CONTEXT, REPO, run_pip

CONTAINERFILE = REPO / "Containerfile"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    """hadolint from its PyPI wheel (the dev extra), failing on any finding at all."""
    return subprocess.run(
        [require_tool("hadolint"), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def arg_defaults() -> dict[str, str]:
    """Every ``ARG NAME=VALUE`` of the Containerfile."""
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", CONTAINERFILE.read_text(), re.MULTILINE))


def locked_version(name: str, requirements: str = "cluster") -> str:
    """The version of ``name`` in ``requirements/<requirements>.txt``."""
    text = (REPO / "requirements" / f"{requirements}.txt").read_text()
    match = re.search(rf"^{re.escape(name)}==(\S+)", text, re.MULTILINE)
    assert match, f"{name} is not in requirements/{requirements}.txt"
    return match.group(1)


def test_hadolint_finds_nothing() -> None:
    done = hadolint(CONTAINERFILE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_hadolint_reports_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install -y curl\nRUN pip install requests\n")
    done = hadolint(bad)
    assert done.returncode == 1
    for rule in ("DL3007", "DL3008", "DL3013"):
        assert rule in done.stdout, done.stdout


def test_base_images_are_pinned_by_digest_with_their_tag() -> None:
    stages: list[str] = []
    text = CONTAINERFILE.read_text()
    for line in text.splitlines():
        match = re.match(r"^FROM (\S+)(?: AS (\S+))?$", line)
        if not match:
            continue
        image, stage = match.groups()
        if image not in stages:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), line
        if stage:
            stages.append(stage)
    bases = {image for image in re.findall(r"^FROM (\S+@\S+)", text, re.MULTILINE)}
    assert len(bases) == 1, bases
    (base,) = bases
    name, digest = base.split("@")
    assert f'org.opencontainers.image.base.name="docker.io/library/{name}"' in text
    assert f'org.opencontainers.image.base.digest="{digest}"' in text
    assert stages[-1] == "cluster", "the default target (the last stage) is the cluster image"
    assert "web" in stages


def test_build_context_holds_what_the_containerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the context admits only what is listed"
    admitted = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    copied: list[str] = []
    for line in CONTAINERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            copied += line.split()[1:-1]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert any(fnmatch.fnmatch(source, p) or source == p for p in admitted), source
    # The fresh-venv tests build the wheel from exactly these.
    assert set(BUILD_CONTEXT) <= set(admitted)


def test_labels_name_the_locked_pyav_and_imageio_ffmpeg() -> None:
    args = arg_defaults()
    assert args["PYAV_VERSION"] == locked_version("av")
    assert args["IMAGEIO_FFMPEG_VERSION"] == locked_version("imageio-ffmpeg")
    text = CONTAINERFILE.read_text()
    for label, arg in [
        ("io.clustercode.ffmpeg.version", "FFMPEG_VERSION"),
        ("io.clustercode.imageio-ffmpeg.version", "IMAGEIO_FFMPEG_VERSION"),
        ("io.clustercode.pyav.version", "PYAV_VERSION"),
        ("io.clustercode.pyav.ffmpeg.version", "PYAV_FFMPEG_VERSION"),
    ]:
        assert f'{label}="${{{arg}}}"' in text, label


def test_image_installs_only_from_the_lock() -> None:
    runs = re.findall(r"^RUN (.*?)(?<!\\)$", CONTAINERFILE.read_text(), re.MULTILINE | re.DOTALL)
    installs = [
        part
        for run in runs
        for part in re.split(r"&&", run.replace("\\\n", " "))
        if " install " in part and "pip" in part
    ]
    assert installs
    for command in installs:
        locked = "--require-hashes" in command and "-r requirements/" in command
        own_wheel = "/tmp/dist/clustercode-" in command and "--no-deps" in command
        assert locked or own_wheel, command


# What a python:3.11-slim-bookworm (glibc 2.36) container accepts on each platform it is built
# for. x86_64 is also covered by the cluster_venv fixture, which installs the same way here.
_IMAGE_PLATFORMS = {
    arch: [f"manylinux_2_{minor}_{arch}" for minor in range(17, 37)]
    for arch in ("x86_64", "aarch64")
}


def _needed_on(arch: str, requirements: str) -> set[str]:
    """The packages of a requirements file whose markers hold in the image on ``arch``."""
    image = {
        "python_version": "3.11",
        "python_full_version": "3.11.16",
        "platform_machine": arch,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "implementation_name": "cpython",
    }
    text = (REPO / "requirements" / f"{requirements}.txt").read_text()
    needed: set[str] = set()
    for name, marker in re.findall(r"^([a-z0-9._-]+)==[^ ;\\]+(?: ; ([^\\]+))?", text, re.M):
        if not marker or Marker(marker.strip()).evaluate(image):
            needed.add(canonicalize_name(name))
    return needed


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["aarch64"])
def test_every_locked_package_has_a_wheel_for_the_image(arch: str, tmp_path: Path) -> None:
    # The multi-arch build installs wheels only (nothing is compiled, also under emulation):
    # pip must find, for each platform, a wheel whose hash is in the lock for every package.
    platforms = [arg for tag in _IMAGE_PLATFORMS[arch] for arg in ("--platform", tag)]
    for requirements in ("build", "web"):
        target = tmp_path / requirements
        run_pip(
            Path(sys.executable).parent / "pip",
            "download", "--only-binary", ":all:", *platforms, "--python-version", "3.11",
            "--implementation", "cp", "--require-hashes", "--no-deps",
            "-r", str(REPO / "requirements" / f"{requirements}.txt"), "--dest", str(target),
        )  # fmt: skip
        files = sorted(p.name for p in target.iterdir())
        shutil.rmtree(target)
        assert all(name.endswith(".whl") for name in files), files
        downloaded = {canonicalize_name(name.split("-")[0]) for name in files}
        assert downloaded == _needed_on(arch, requirements)
