"""Fixtures for the step program tests: ffmpeg, clips made once per session, settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.ffmpeg import FFmpeg, FFmpegError, checked_ffmpeg
from tests.pipelines.clips import ClipStore


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
    """Test clips by name, each generated on first use and shared by the whole session."""
    return ClipStore(ffmpeg.path, tmp_path_factory.mktemp("clips"))


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
