"""Find the ffmpeg binary: a pinned path, else ffmpeg on PATH, else the imageio-ffmpeg wheel's."""

from __future__ import annotations

import functools
import os
import shutil

FFMPEG_ENV = "CLUSTERCODE_FFMPEG"


class FFmpegNotFoundError(RuntimeError):
    """No usable ffmpeg binary."""


@functools.cache
def ffmpeg_path() -> str:
    """Return the ffmpeg to run.

    ``$CLUSTERCODE_FFMPEG`` pins a path; otherwise ffmpeg from ``PATH``; otherwise the static
    binary that the ``imageio-ffmpeg`` wheel ships, so a fresh machine needs no system ffmpeg.
    """
    pinned = os.environ.get(FFMPEG_ENV)
    if pinned:
        if not os.access(pinned, os.X_OK):
            raise FFmpegNotFoundError(f"{FFMPEG_ENV}={pinned} is not an executable file")
        return pinned
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError) as exc:
        raise FFmpegNotFoundError(
            f"no ffmpeg: set {FFMPEG_ENV}, put ffmpeg on PATH or pip install 'clustercode[ffmpeg]'"
        ) from exc
