"""What a media file holds, as plain values: what ``probe`` finds and the slice plan stores.

Apart from :mod:`pipelines.probe` so that a step that only reads a plan (``encode``) does not
load PyAV's media libraries at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

StreamKind = Literal["video", "audio", "subtitle", "attachment", "data"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamInfo:
    """One stream of a media file.

    Attributes:
        index: the stream's index in the file (``-map 0:INDEX``).
        kind: ``attachment`` includes cover images that the demuxer exposes as one-picture
            video streams (``attached_pic``), because they are files, not video.
        codec: codec name, ``None`` for plain attachments.
        language: the ``language`` tag, if any.
        title: the ``title`` tag, if any.
        dispositions: ffmpeg disposition names set on the stream, e.g. ``("default", "forced")``.
        cover: a picture the demuxer exposes as an ``attached_pic`` video stream.
        filename: an attachment's file name.
        mimetype: an attachment's MIME type.
        packets: packets read (0 for attachments).
        first_pts: smallest presentation time in seconds, ``None`` without timed packets.
        end: largest presentation time plus packet duration, in seconds.
    """

    index: int
    kind: StreamKind
    codec: str | None
    language: str | None = None
    title: str | None = None
    dispositions: tuple[str, ...] = ()
    cover: bool = False
    filename: str | None = None
    mimetype: str | None = None
    packets: int = 0
    first_pts: float | None = None
    end: float | None = None

    @property
    def forced(self) -> bool:
        """Whether the stream carries the forced disposition."""
        return "forced" in self.dispositions

    @property
    def default(self) -> bool:
        """Whether the stream carries the default disposition."""
        return "default" in self.dispositions


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoTimeline:
    """Every frame of the main video stream, by presentation time.

    Attributes:
        stream_index: index of the main video stream.
        time_base: the stream's time base as ``"num/den"``.
        pts: presentation timestamps in time-base units, sorted (presentation order).
        last_duration: duration of the last frame in time-base units (from its packet, else the
            interval before it).
        keyframes: pts of the packets flagged keyframe, sorted.
        keyframe_dts: decode timestamp of each of those keyframes (its pts when the container
            stores none), same order.
    """

    stream_index: int
    time_base: str
    pts: tuple[int, ...]
    last_duration: int
    keyframes: tuple[int, ...] = ()
    keyframe_dts: tuple[int, ...] = ()

    @property
    def frames(self) -> int:
        """Number of frames."""
        return len(self.pts)

    def seconds(self, pts: int) -> float:
        """Convert a pts of this stream to seconds."""
        # Integer true division rounds correctly, as float(Fraction) does, without importing
        # fractions at every step's start.
        numerator, _, denominator = self.time_base.partition("/")
        return pts * int(numerator) / int(denominator or 1)

    @property
    def duration(self) -> float:
        """Presentation span of the video, first frame start to last frame end, in seconds."""
        if not self.pts:
            return 0.0
        return self.seconds(self.pts[-1] + self.last_duration - self.pts[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaInfo:
    """What one media file holds.

    Attributes:
        path: the file probed.
        format_name: demuxer name, e.g. ``matroska,webm``.
        start_time: ``format.start_time`` in seconds (0 when unknown).
        duration: the container's declared duration in seconds, ``None`` when unknown.
        size: file size in bytes.
        discontinuous: the format may have timestamp discontinuities and has no seek index
            (MPEG-TS, MPEG-PS: ``AVFMT_TS_DISCONT``); seeking there lands on any packet near
            the target by dts, not on a keyframe.
        streams: every stream, in file order.
        chapters: number of chapters.
        tags: global metadata.
    """

    path: str
    format_name: str
    start_time: float
    duration: float | None
    size: int
    streams: tuple[StreamInfo, ...]
    discontinuous: bool = False
    chapters: int = 0
    tags: Mapping[str, str] = field(default_factory=dict)

    def of_kind(self, kind: StreamKind) -> tuple[StreamInfo, ...]:
        """Streams of one kind, in file order."""
        return tuple(s for s in self.streams if s.kind == kind)

    def main_video(self) -> StreamInfo | None:
        """The first video stream that is real video (ffmpeg's ``V:0``)."""
        videos = self.of_kind("video")
        return videos[0] if videos else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        raw = asdict(self)
        raw["tags"] = dict(self.tags)
        return raw

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> MediaInfo:
        """Inverse of :meth:`to_dict`."""
        streams = tuple(
            StreamInfo(**{**s, "dispositions": tuple(s["dispositions"])}) for s in raw["streams"]
        )
        return cls(**{**raw, "streams": streams, "tags": dict(raw["tags"])})
