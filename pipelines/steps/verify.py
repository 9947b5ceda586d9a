"""The checks an output must pass before it replaces anything (ARCHITECTURE §2, verify).

Pure functions over probe results, so each rule is testable without media files.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.media import MediaInfo, StreamInfo, VideoTimeline
from pipelines.settings import Container, StreamKeep

# Audio-minus-video start offset may move this much (an Opus remux moves it ~7 ms).
AV_OFFSET_TOLERANCE = 0.020
# Matroska stores milliseconds: allow that rounding on top of one frame.
TIMESTAMP_ROUNDING = 0.001

# Subtitle codecs that are text and so can become mov_text in mp4.
TEXT_SUBTITLES = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    """What a correct output holds.

    Attributes:
        video_codec: codec name of the encoded video (from the slices).
        frames: source video frame count.
        video_duration: source video span, seconds.
        frame_interval: one frame, seconds (tolerance of the duration check).
        audio: audio stream count.
        subtitles: subtitle stream count.
        attachments: attachment count, cover images included.
        data: data stream count.
        chapters: chapter count.
        av_offset: source's audio-minus-video start offset, ``None`` without kept audio.
    """

    video_codec: str
    frames: int
    video_duration: float
    frame_interval: float
    audio: int
    subtitles: int
    attachments: int
    data: int
    chapters: int
    av_offset: float | None


def av_offset(info: MediaInfo) -> float | None:
    """First audio stream's start minus the main video's start, seconds (``None`` if absent)."""
    video = info.main_video()
    audio = info.of_kind("audio")
    if video is None or not audio or video.first_pts is None or audio[0].first_pts is None:
        return None
    return audio[0].first_pts - video.first_pts


def kept_attachments(source: MediaInfo, container: Container) -> tuple[StreamInfo, ...]:
    """Attachments the output can carry: all in mkv; in mp4 only cover images (fonts cannot)."""
    files = source.of_kind("attachment")
    if container == "mp4":
        return tuple(s for s in files if s.cover)
    return files


def expected_output(
    *,
    source: MediaInfo,
    frames: int,
    video_duration: float,
    keep: StreamKeep,
    container: Container,
    video_codec: str,
) -> Expected:
    """Derive the expectations from the source and the settings, by the stated rules alone."""
    audio = len(source.of_kind("audio")) if keep.audio else 0
    return Expected(
        video_codec=video_codec,
        frames=frames,
        video_duration=video_duration,
        frame_interval=video_duration / max(1, frames),
        audio=audio,
        subtitles=len(source.of_kind("subtitle")) if keep.subtitles else 0,
        attachments=len(kept_attachments(source, container)) if keep.attachments else 0,
        data=len(source.of_kind("data")) if keep.data else 0,
        chapters=source.chapters if keep.chapters else 0,
        av_offset=av_offset(source) if audio else None,
    )


def problems(output: MediaInfo, timeline: VideoTimeline | None, expected: Expected) -> list[str]:
    """Every way ``output`` falls short of ``expected``; empty means publishable."""
    found: list[str] = []
    videos = output.of_kind("video")
    if len(videos) != 1:
        found.append(f"expected 1 video stream, found {len(videos)}")
    elif videos[0].codec != expected.video_codec:
        found.append(f"video codec is {videos[0].codec}, expected {expected.video_codec}")
    counts = {
        "audio streams": (len(output.of_kind("audio")), expected.audio),
        "subtitle streams": (len(output.of_kind("subtitle")), expected.subtitles),
        "attachments": (len(output.of_kind("attachment")), expected.attachments),
        "data streams": (len(output.of_kind("data")), expected.data),
        "chapters": (output.chapters, expected.chapters),
    }
    for name, (have, want) in counts.items():
        if have != want:
            found.append(f"expected {want} {name}, found {have}")
    if timeline is None:
        return found
    if timeline.frames != expected.frames:
        found.append(f"video has {timeline.frames} frames, the source has {expected.frames}")
    tolerance = expected.frame_interval + TIMESTAMP_ROUNDING
    if abs(timeline.duration - expected.video_duration) > tolerance:
        found.append(
            f"video lasts {timeline.duration:.3f} s, the source {expected.video_duration:.3f} s "
            f"(allowed: one frame, {tolerance * 1000:.0f} ms)"
        )
    if expected.av_offset is not None:
        offset = av_offset(output)
        if offset is None:
            found.append("audio or video has no timestamps in the output")
        elif abs(offset - expected.av_offset) > AV_OFFSET_TOLERANCE:
            found.append(
                f"audio starts {offset * 1000:+.0f} ms from video, in the source "
                f"{expected.av_offset * 1000:+.0f} ms (allowed: "
                f"{AV_OFFSET_TOLERANCE * 1000:.0f} ms)"
            )
    return found
