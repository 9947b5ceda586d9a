"""Compare an output with its source the way a viewer would notice a difference."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipelines.ffmpeg import FFmpeg
from pipelines.probe import MediaInfo, StreamKind, VideoTimeline

StreamRow = tuple[str, str | None, str | None, bool, bool]


def frame_hashes(ffmpeg: FFmpeg, path: Path) -> list[str]:
    """MD5 of every decoded frame of the main video, in presentation order."""
    command = [ffmpeg.path, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0"]
    command += [*ffmpeg.dialect.decode_passthrough(), "-f", "framemd5", "-"]
    done = subprocess.run(
        command,
        env=ffmpeg.environ(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    return [line.rsplit(",", 1)[1].strip() for line in lines]


def stream_rows(info: MediaInfo, *, video_codec: bool = False) -> list[StreamRow]:
    """(kind, codec, language, default, forced) per stream, grouped by kind as merge orders them.

    The video codec is left out unless asked for: it is the one thing meant to change.
    """
    order: tuple[StreamKind, ...] = ("video", "audio", "subtitle", "data", "attachment")
    rows: list[StreamRow] = []
    for kind in order:
        for stream in info.of_kind(kind):
            codec = stream.codec if kind != "video" or video_codec else None
            # "und" is how MP4 spells no language; Matroska leaves the element out.
            language = None if stream.language == "und" else stream.language
            rows.append((kind, codec, language, stream.default, stream.forced))
    return rows


def attachment_rows(info: MediaInfo) -> list[tuple[str | None, str | None, bool]]:
    """(filename, mimetype, cover) per attachment, sorted by file name."""
    files = [(s.filename, s.mimetype, s.cover) for s in info.of_kind("attachment")]
    return sorted(files, key=lambda row: (row[0] or "", row[2]))


def relative_pts(timeline: VideoTimeline) -> list[float]:
    """Frame times in seconds from the first frame."""
    first = timeline.pts[0]
    return [timeline.seconds(p - first) for p in timeline.pts]
