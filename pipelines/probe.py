"""Read what a media file holds, with PyAV, so no ffprobe binary is needed.

One demux pass (no decoding) gives every stream's kind, codec, language, dispositions and
attachment details, the chapters and tags, and per stream the packet count and the first and last
presentation time. For the main video stream it also keeps every packet's pts in presentation
order, which the split planner cuts on and the merge verifier counts.

PyAV ships its own FFmpeg libraries, so probing works wherever the package installs, including
next to the static ffmpeg binary of ``imageio-ffmpeg`` that has no ffprobe beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.logging
from av.stream import Disposition

from pipelines.media import MediaInfo, StreamInfo, StreamKind, VideoTimeline

logger = logging.getLogger(__name__)

__all__ = [
    "MediaInfo",
    "Probe",
    "ProbeError",
    "StreamInfo",
    "StreamKind",
    "VideoTimeline",
    "cover_image",
    "probe",
]


# The demuxer messages that mean the file itself is damaged, not merely unusual.
_DAMAGE_LEVEL = av.logging.ERROR
# libavformat's AVFMT_TS_DISCONT format flag.
_TS_DISCONT = 0x0200


class ProbeError(Exception):
    """The file cannot be opened or read as media, or it is damaged."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """A file's streams plus the timeline of its main video (``None`` without video)."""

    info: MediaInfo
    timeline: VideoTimeline | None


def _tag(metadata: Mapping[str, str], name: str) -> str | None:
    for key, value in metadata.items():
        if key.lower() == name:
            return value
    return None


def _dispositions(flags: Disposition) -> tuple[str, ...]:
    return tuple(f.name for f in Disposition if f.name and f in flags)


def _kind(stream: av.stream.Stream, dispositions: tuple[str, ...]) -> StreamKind:
    kind = stream.type
    if kind == "video" and "attached_pic" in dispositions:
        return "attachment"
    if kind in ("video", "audio", "subtitle", "attachment"):
        return kind
    return "data"


def _codec_name(stream: av.stream.Stream) -> str | None:
    # The codec's own name ("av1", "subrip"), as ffprobe reports it, not the name of the
    # decoder PyAV happened to pick ("libdav1d", "srt").
    context = getattr(stream, "codec_context", None)
    return None if context is None else str(context.codec.canonical_name)


class _StreamStats:
    __slots__ = ("end", "first", "packets", "time_base")

    def __init__(self, time_base: Fraction | None) -> None:
        self.time_base = time_base
        self.packets = 0
        self.first: int | None = None
        self.end: int | None = None

    def add(self, pts: int | None, duration: int | None) -> None:
        self.packets += 1
        if pts is None:
            return
        if self.first is None or pts < self.first:
            self.first = pts
        end = pts + (duration or 0)
        if self.end is None or end > self.end:
            self.end = end

    def seconds(self, value: int | None) -> float | None:
        if value is None or self.time_base is None:
            return None
        return float(value * self.time_base)


def probe(path: str | Path, *, damage_is_error: bool = True) -> Probe:
    """Read every packet of a file (no decoding) and describe it.

    Args:
        path: the media file.
        damage_is_error: raise when the demuxer reports damage (a truncated file, broken
            container structure, packets flagged corrupt). Off only to describe known-bad files.

    Raises:
        ProbeError: the file cannot be opened or read, or it is damaged.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ProbeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    previous_level = av.logging.get_level()
    av.logging.set_level(_DAMAGE_LEVEL)
    try:
        with av.logging.Capture() as logs:
            result = _probe_open(path, size)
    finally:
        av.logging.set_level(previous_level)
    info, timeline, corrupt = result
    if damage_is_error:
        damage = [f"{name}: {message.strip()}" for level, name, message in logs]
        damage = [d for d in damage if d] + corrupt
        if damage:
            raise ProbeError(f"{path} is damaged ({damage[0]})")
    return Probe(info=info, timeline=timeline)


def _probe_open(path: Path, size: int) -> tuple[MediaInfo, VideoTimeline | None, list[str]]:
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ProbeError(f"cannot open {path} as media: {exc}") from exc
    with container:
        return _describe(container, path, size)


def _describe(
    container: av.container.InputContainer, path: Path, size: int
) -> tuple[MediaInfo, VideoTimeline | None, list[str]]:
    kinds: dict[int, StreamKind] = {}
    dispositions: dict[int, tuple[str, ...]] = {}
    for stream in container.streams:
        dispositions[stream.index] = _dispositions(stream.disposition)
        kinds[stream.index] = _kind(stream, dispositions[stream.index])
    main_video = next((i for i, k in kinds.items() if k == "video"), None)
    stats = {
        s.index: _StreamStats(None if s.time_base is None else Fraction(s.time_base))
        for s in container.streams
    }
    video_pts: list[int] = []
    video_durations: dict[int, int] = {}
    keyframes: list[tuple[int, int]] = []
    corrupt: list[str] = []
    timed = [s for s in container.streams if kinds[s.index] != "attachment"]
    try:
        for packet in container.demux(timed):
            if packet.size == 0:
                continue  # PyAV's end-of-stream flush packets carry no data
            index = packet.stream_index
            if index == main_video and packet.is_discard:
                # Before an MP4 edit list's start: decoders drop these frames, so they are not
                # frames of the video.
                continue
            stats[index].add(packet.pts, packet.duration)
            if packet.is_corrupt:
                corrupt.append(f"stream {index}: corrupt packet at pts {packet.pts}")
            if index == main_video:
                if packet.pts is None:
                    raise ProbeError(
                        f"{path}: video packet {len(video_pts)} has no timestamp; "
                        "remux the file (ffmpeg -fflags +genpts -c copy) and try again"
                    )
                video_pts.append(packet.pts)
                if packet.is_keyframe:
                    dts = packet.pts if packet.dts is None else packet.dts
                    keyframes.append((packet.pts, dts))
                if packet.duration:
                    video_durations[packet.pts] = packet.duration
    except av.FFmpegError as exc:
        raise ProbeError(f"cannot read {path}: {exc}") from exc

    streams = tuple(
        _stream_info(s, kinds[s.index], dispositions[s.index], stats[s.index])
        for s in container.streams
        if not _is_chapter_track(s, kinds[s.index], stats[s.index])
    )
    start = container.start_time
    info = MediaInfo(
        path=str(path),
        format_name=container.format.name,
        start_time=0.0 if start is None else start / av.time_base,
        duration=None if container.duration is None else container.duration / av.time_base,
        size=size,
        streams=streams,
        discontinuous=bool(container.format.flags & _TS_DISCONT),
        chapters=len(container.chapters()),
        tags=dict(container.metadata),
    )
    timeline = None
    if main_video is not None:
        timeline = _timeline(container.streams[main_video], video_pts, video_durations, keyframes)
    return info, timeline, corrupt


def _is_chapter_track(stream: av.stream.Stream, kind: StreamKind, stats: _StreamStats) -> bool:
    # MP4 keeps chapter titles in a text track that the demuxer reads into chapters and then
    # lists as a codec-less data stream without packets: not a stream anyone can map.
    return kind == "data" and _codec_name(stream) is None and stats.packets == 0


def _stream_info(
    stream: av.stream.Stream,
    kind: StreamKind,
    dispositions: tuple[str, ...],
    stats: _StreamStats,
) -> StreamInfo:
    metadata = dict(stream.metadata)
    is_file = kind == "attachment"
    return StreamInfo(
        index=stream.index,
        kind=kind,
        codec=_codec_name(stream),
        language=_tag(metadata, "language"),
        title=_tag(metadata, "title"),
        dispositions=dispositions,
        cover="attached_pic" in dispositions,
        filename=_tag(metadata, "filename") if is_file else None,
        mimetype=_tag(metadata, "mimetype") if is_file else None,
        packets=0 if is_file else stats.packets,
        first_pts=None if is_file else stats.seconds(stats.first),
        end=None if is_file else stats.seconds(stats.end),
    )


def _timeline(
    stream: av.stream.Stream,
    pts: list[int],
    durations: dict[int, int],
    keyframes: list[tuple[int, int]],
) -> VideoTimeline:
    ordered = sorted(pts)
    if not ordered:
        last = 0
    elif ordered[-1] in durations:
        last = durations[ordered[-1]]
    elif len(ordered) > 1:
        last = ordered[-1] - ordered[-2]
    else:
        last = 0
    time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1)
    keyframes.sort()
    return VideoTimeline(
        stream_index=stream.index,
        time_base=f"{time_base.numerator}/{time_base.denominator}",
        pts=tuple(ordered),
        last_duration=last,
        keyframes=tuple(k for k, _ in keyframes),
        keyframe_dts=tuple(d for _, d in keyframes),
    )


def cover_image(path: str | Path, stream_index: int) -> bytes:
    """The picture of a cover-image stream (``attached_pic``), as the file bytes it was.

    Raises:
        ProbeError: the file cannot be read or the stream holds no picture.
    """
    try:
        with av.open(str(path), mode="r") as container:
            stream = container.streams[stream_index]
            for packet in container.demux(stream):
                if packet.size:
                    return bytes(packet)
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise ProbeError(f"cannot read stream {stream_index} of {path}: {exc}") from exc
    raise ProbeError(f"stream {stream_index} of {path} holds no picture")
