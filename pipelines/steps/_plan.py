"""The slice plan that ``split`` writes into the work directory and every later step reads."""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines.contract import slice_count
from pipelines.media import MediaInfo, VideoTimeline
from pipelines.steps import _atomic
from pipelines.steps.errors import StepError

PLAN_VERSION = 1
PLAN_NAME = "plan.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlicePlan:
    """One slice: a run of consecutive source frames in presentation order.

    Attributes:
        index: slice number, 0-based, in presentation order.
        first_frame: index of the slice's first frame in the source.
        frames: number of frames.
        seek: input ``-ss`` in seconds after ``format.start_time``: where the demuxer starts
            reading, at or before the keyframe that the first frame needs; ``None`` to read
            from the start of the file.
        cut: output ``-ss`` in seconds on the source clock (used with ``-copyts``): half-way
            between the slice's first frame and the one before it, so decoded frames before
            the first frame are dropped exactly; ``None`` for the first slice.
        first_pts: presentation time of the first frame, seconds, source clock.
        duration: time from this slice's first frame to the next slice's first frame (the last
            slice: to the end of the last frame); the concat list's ``duration`` line.
    """

    index: int
    first_frame: int
    frames: int
    seek: float | None
    cut: float | None
    first_pts: float
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """Everything later steps need to know about the source and its slices.

    Attributes:
        source: the source path as ``split`` saw it.
        source_size: its size in bytes, to notice a source replaced mid-job.
        source_mtime_ns: its modification time, for the same reason.
        start_time: ``format.start_time`` in seconds.
        video_index: the main video stream's index in the source.
        time_base: that stream's time base, ``"num/den"``.
        frames: number of video frames in the source.
        video_first_pts: presentation time of the first frame, seconds.
        video_duration: first frame start to last frame end, seconds.
        frame_interval: mean frame interval, seconds (the "one frame" duration tolerance).
        source_info: the probed source, for the merge step's checks.
        slices: the slices in index order.
    """

    source: str
    source_size: int
    source_mtime_ns: int
    start_time: float
    video_index: int
    time_base: str
    frames: int
    video_first_pts: float
    video_duration: float
    frame_interval: float
    source_info: MediaInfo
    slices: tuple[SlicePlan, ...]

    def to_json(self) -> str:
        """Serialise for ``plan.json``."""
        raw: dict[str, Any] = {"version": PLAN_VERSION}
        for name in self.__dataclass_fields__:
            raw[name] = getattr(self, name)
        raw["source_info"] = self.source_info.to_dict()
        raw["slices"] = [asdict(s) for s in self.slices]
        return json.dumps(raw, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Parse ``plan.json``.

        Raises:
            ValueError: not a plan of this version.
        """
        raw = json.loads(text)
        if raw.pop("version", None) != PLAN_VERSION:
            raise ValueError(f"not a version {PLAN_VERSION} plan")
        raw["source_info"] = MediaInfo.from_dict(raw["source_info"])
        raw["slices"] = tuple(SlicePlan(**s) for s in raw["slices"])
        return cls(**raw)

    def fanout_items(self) -> list[dict[str, int]]:
        """The encode fan-out list, longest slice first so no worker idles at the end."""
        ordered = sorted(self.slices, key=lambda s: (-s.frames, s.index))
        return [{"index": s.index, "frames": s.frames} for s in ordered]


def cut_frames(pts: Sequence[int], slices: int) -> list[int]:
    """First-frame indices of ``slices`` runs of about equal frame counts.

    Equal frame counts rather than equal seconds: encode time follows frames. A cut never falls
    between two frames with the same timestamp, where the midpoint seek could not tell them apart.

    Args:
        pts: presentation timestamps, sorted.
        slices: wanted number of slices (capped at the number of frames).
    """
    total = len(pts)
    wanted = max(1, min(slices, total))
    starts: list[int] = []
    for k in range(wanted):
        first = k * total // wanted
        while 0 < first < total and pts[first - 1] == pts[first]:
            first += 1
        if first >= total or (starts and first <= starts[-1]):
            continue
        starts.append(first)
    return starts


# Extra lead before the keyframe in formats without a seek index (see seek_time).
DISCONTINUOUS_SEEK_MARGIN = 0.1
# The ffmpeg CLI's "dts heuristic": -ss moves 3/23 s earlier for B-frame video in formats that
# do not seek by pts (fftools/ffmpeg_demux.c), rounded up to whole microseconds.
CLI_SEEK_ADJUSTMENT = 0.130435
SEEK_GUARD = 0.002


def seek_time(
    timeline: VideoTimeline, first: int, *, start_time: float, discontinuous: bool
) -> float | None:
    """Where to start reading so that the decoder gets the keyframe frame ``first`` needs.

    That keyframe is the last one presented at or before the frame: an open-GOP frame that is
    presented before its own keyframe refers back into the previous group, which starts there.

    Matroska and MP4 seek through an index to the last keyframe at or before the target. The
    ffmpeg CLI first moves the target 3/23 s earlier when the video has B-frames and the format
    does not seek by pts (Matroska), which would land one whole group early; the target is put
    that much after the keyframe when the next keyframe and the slice's first frame are both
    later still, so it lands on the keyframe whether or not ffmpeg adjusts it.

    MPEG-TS and -PS have no index: ffmpeg searches for any packet whose dts is at or below the
    target, so the target is the keyframe's dts minus a margin, which lands before the keyframe.
    Seeking to the wanted frame itself lands after its keyframe and decodes garbage or drops
    frames (measured with ffmpeg 9 on open-GOP H.264 in MPEG-TS).

    Returns:
        Seconds after ``format.start_time``, or ``None`` to read from the start of the file.
    """
    pts = timeline.pts
    position = bisect_right(timeline.keyframes, pts[first]) - 1
    if position <= 0:
        return None
    keyframe = timeline.seconds(timeline.keyframes[position])
    if discontinuous:
        ticks = timeline.keyframe_dts[position]
        seconds = timeline.seconds(ticks) - start_time - DISCONTINUOUS_SEEK_MARGIN
        seconds = math.floor(seconds * 1_000_000) / 1_000_000
    else:
        seconds = keyframe - start_time
        compensated = keyframe + CLI_SEEK_ADJUSTMENT
        later = [timeline.seconds(pts[first - 1] + pts[first]) / 2]
        if position + 1 < len(timeline.keyframes):
            later.append(timeline.seconds(timeline.keyframes[position + 1]))
        if compensated + SEEK_GUARD < min(later):
            seconds = compensated - start_time
    return seconds if seconds > 0 else None


def build_plan(
    *,
    source: Path,
    info: MediaInfo,
    timeline: VideoTimeline,
    slice_seconds: float,
    min_slices: int = 1,
    starts: Sequence[int] | None = None,
) -> Plan:
    """Cut the source's video into slices and describe how to encode and join them.

    ``starts`` gives the slices' first frames (sorted, starting at 0) instead of cutting
    slices of about ``slice_seconds``; the ffmpeg self-test cuts where it hurts most.
    """
    pts = timeline.pts
    if not pts:
        raise StepError(f"{source} has a video stream without frames")
    if starts is None:
        try:
            count = slice_count(timeline.duration, slice_seconds, min_slices)
        except ValueError as exc:
            raise StepError(str(exc)) from None
        starts = cut_frames(pts, count)
    ends = [*starts[1:], len(pts)]
    slices = []
    for index, (first, end) in enumerate(zip(starts, ends, strict=True)):
        if end < len(pts):
            duration = timeline.seconds(pts[end] - pts[first])
        else:
            duration = timeline.seconds(pts[-1] + timeline.last_duration - pts[first])
        cut = None
        if first > 0:
            # Half-way between two frames: immune to rounding of either timestamp.
            cut = timeline.seconds(pts[first - 1] + pts[first]) / 2
        slices.append(
            SlicePlan(
                index=index,
                first_frame=first,
                frames=end - first,
                seek=seek_time(
                    timeline, first, start_time=info.start_time, discontinuous=info.discontinuous
                ),
                cut=cut,
                first_pts=timeline.seconds(pts[first]),
                duration=duration,
            )
        )
    stat = source.stat()
    return Plan(
        source=str(source.absolute()),
        source_size=stat.st_size,
        source_mtime_ns=stat.st_mtime_ns,
        start_time=info.start_time,
        video_index=timeline.stream_index,
        time_base=timeline.time_base,
        frames=len(pts),
        video_first_pts=timeline.seconds(pts[0]),
        video_duration=timeline.duration,
        frame_interval=timeline.duration / len(pts),
        source_info=info,
        slices=tuple(slices),
    )


def plan_path(work: Path) -> Path:
    """Where the plan lives in a work directory."""
    return work / PLAN_NAME


def slice_path(work: Path, index: int) -> Path:
    """Where slice ``index`` lives in a work directory."""
    return work / "slices" / f"slice_{index:05d}.mkv"


def write_plan(work: Path, plan: Plan) -> None:
    """Write the plan atomically."""
    _atomic.write_text(plan_path(work), plan.to_json())


def load_plan(work: Path, source: Path) -> Plan:
    """Read the plan and check that the source is still the file it was made from.

    Raises:
        StepError: no plan (split has not run), an unreadable plan, or a changed source.
    """
    path = plan_path(work)
    try:
        plan = Plan.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StepError(f"no slice plan at {path}: run the split step first") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StepError(f"unreadable slice plan {path}: {exc}") from exc
    check_source(plan, source)
    return plan


def check_source(plan: Plan, source: Path) -> None:
    """Fail when the source is missing or differs from the file that was planned."""
    try:
        stat = source.stat()
    except OSError as exc:
        raise StepError(f"cannot read source {source}: {exc.strerror or exc}") from exc
    try:
        same = source.samefile(plan.source)
    except OSError:
        same = False
    if not same:
        raise StepError(f"source {source} is not the planned file {plan.source}")
    if (stat.st_size, stat.st_mtime_ns) != (plan.source_size, plan.source_mtime_ns):
        raise StepError(f"source {source} changed since it was planned; run the job again")
