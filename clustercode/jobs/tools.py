"""The ffmpeg this machine's jobs run, checked before the first job starts."""

from __future__ import annotations

import asyncio

from clustercode.config.settings import Settings
from clustercode.errors import ToolError
from pipelines.ffmpeg import FFMPEG_ENV, FFmpeg, FFmpegError, checked_ffmpeg


async def require_ffmpeg(settings: Settings) -> FFmpeg | None:
    """Check the ffmpeg the local executor's steps will run (once; the result is cached).

    On a cluster (``executor: argo``) the pods' own image decides, and every step checks its
    ffmpeg itself; nothing is checked here.

    Raises:
        ToolError: no usable ffmpeg; the message is the one line that says what to do.
    """
    if settings.executor != "local":
        return None
    try:
        # The self-test runs ffmpeg a few times (about a second, once per binary).
        return await asyncio.to_thread(checked_ffmpeg)
    except FFmpegError as exc:
        raise ToolError(str(exc)) from None


def step_environment() -> dict[str, str]:
    """Environment of the local executor's steps: the checked binary, pinned.

    Raises:
        ToolError: no usable ffmpeg.
    """
    try:
        return {FFMPEG_ENV: checked_ffmpeg().path}
    except FFmpegError as exc:
        raise ToolError(str(exc)) from None
