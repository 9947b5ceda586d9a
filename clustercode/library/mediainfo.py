"""A light probe of a media file: what the skip rules and ``explain`` need, nothing more.

PyAV (``av``) opens the container with its bundled FFmpeg libraries, so probing needs no ffprobe
binary and no subprocess: reading the headers of a file takes a few milliseconds, which matters
when a first scan meets thousands of files. Only headers are read, never packets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from av.stream import Disposition

from clustercode.errors import ClustercodeError

__all__ = ["MediaError", "MediaInfo", "probe"]

log = logging.getLogger(__name__)


class MediaError(ClustercodeError):
    """A media file cannot be read, probed or fingerprinted; the message names the file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaInfo:
    """What a probe learnt about one media file.

    Attributes:
        path: the file probed.
        size: size in bytes.
        format_name: the demuxer's name, e.g. ``matroska,webm``.
        duration: seconds, when the container states it.
        bit_rate: overall bit rate in bits/s, when known.
        video_codec: codec of the main video stream (``h264``, ``hevc``, ``av1``, ...), ``None``
            when the file has no video stream.
        width: main video width in pixels.
        height: main video height in pixels.
        video_bit_rate: main video bit rate in bits/s; from the stream, else from a Matroska
            ``BPS`` tag, else ``None``.
        frame_rate: average frame rate of the main video, when known.
        pix_fmt: pixel format of the main video, e.g. ``yuv420p10le``.
        video_streams: video streams that are not attached pictures (cover art).
        audio_streams: audio streams.
        subtitle_streams: subtitle streams.
        attachments: attachment streams (fonts) plus attached pictures.
    """

    path: Path
    size: int
    format_name: str
    duration: float | None
    bit_rate: int | None
    video_codec: str | None
    width: int | None
    height: int | None
    video_bit_rate: int | None
    frame_rate: float | None
    pix_fmt: str | None
    video_streams: int
    audio_streams: int
    subtitle_streams: int
    attachments: int

    @property
    def effective_bit_rate(self) -> int | None:
        """The video bit rate if known, else the overall bit rate (what skip rules compare)."""
        return self.video_bit_rate or self.bit_rate


def probe(path: Path) -> MediaInfo:
    """Read a media file's headers.

    Args:
        path: the file.

    Returns:
        The file's :class:`MediaInfo`.

    Raises:
        MediaError: the file does not exist, cannot be read, or is not media FFmpeg understands.
    """
    try:
        size = Path(path).stat().st_size
        container = av.open(str(path), mode="r", metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise MediaError(f"{path}: not a readable media file ({_reason(exc)})") from exc
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        video = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
        pictures = len(container.streams.video) - len(video)
        main = video[0] if video else None
        duration = container.duration / 1_000_000 if container.duration else None
        info = MediaInfo(
            path=path,
            size=size,
            format_name=container.format.name,
            duration=duration,
            bit_rate=container.bit_rate or None,
            video_codec=main.codec_context.codec.canonical_name if main else None,
            width=main.codec_context.width or None if main else None,
            height=main.codec_context.height or None if main else None,
            video_bit_rate=_video_bit_rate(main) if main else None,
            frame_rate=float(main.average_rate) if main and main.average_rate else None,
            pix_fmt=main.codec_context.pix_fmt if main else None,
            video_streams=len(video),
            audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles),
            attachments=len(container.streams.attachments) + pictures,
        )
    finally:
        container.close()
    log.debug("probed %s: %s", path, info)
    return info


def _video_bit_rate(stream: av.video.stream.VideoStream) -> int | None:
    if stream.bit_rate:
        return int(stream.bit_rate)
    # Matroska stores per-stream statistics as tags written by mkvmerge ("BPS", "BPS-eng").
    for key, value in stream.metadata.items():
        if key.upper() in ("BPS", "BPS-ENG"):
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _reason(exc: av.error.FFmpegError) -> str:
    text = exc.strerror or str(exc)
    return text[0].lower() + text[1:] if text else "unknown error"
