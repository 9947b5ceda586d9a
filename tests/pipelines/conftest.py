"""Fixtures for the step program tests: ffmpeg, clips made once per session, settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.ffmpeg import FFmpeg, FFmpegError, checked_ffmpeg
from tests.pipelines.clips import ClipStore

CLIP_FFMPEG_ENV = "CLUSTERCODE_TEST_CLIP_FFMPEG"


@pytest.fixture(scope="session")
def ffmpeg() -> FFmpeg:
    """The checked ffmpeg the steps use (``$CLUSTERCODE_FFMPEG`` selects one for the matrix)."""
    try:
        return checked_ffmpeg()
    except FFmpegError as exc:
        if os.environ.get("CLUSTERCODE_REQUIRE_TOOLS") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def clips(ffmpeg: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> ClipStore:
    """Test clips by name, each generated on first use and shared by the whole session.

    Made by the ffmpeg under test, or by ``$CLUSTERCODE_TEST_CLIP_FFMPEG``: files written by
    another release differ in ways that matter (ffmpeg 7 and later write Matroska audio with
    negative timestamps), so the matrix also runs each binary on the bundled one's clips.
    """
    maker = os.environ.get(CLIP_FFMPEG_ENV) or ffmpeg.path
    return ClipStore(maker, tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def source_hashes(ffmpeg: FFmpeg) -> Callable[[Path], list[str]]:
    """Frame hashes of a source, computed once per path."""
    from tests.pipelines.media_checks import frame_hashes

    cache: dict[Path, list[str]] = {}

    def hashes(path: Path) -> list[str]:
        if path not in cache:
            cache[path] = frame_hashes(ffmpeg, path)
        return cache[path]

    return hashes


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """An empty folder for a test's outputs: a test can demand that nothing else is in it."""
    path = tmp_path / "out"
    path.mkdir()
    return path
