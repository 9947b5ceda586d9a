"""Slice planning rules, without media files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.contract import slice_count
from pipelines.probe import MediaInfo, StreamInfo, VideoTimeline
from pipelines.steps._plan import (
    CLI_SEEK_ADJUSTMENT,
    DISCONTINUOUS_SEEK_MARGIN,
    Plan,
    build_plan,
    cut_frames,
    load_plan,
    seek_time,
    write_plan,
)
from pipelines.steps.errors import StepError


def _timeline(
    pts: list[int], keyframes: list[int], *, time_base: str = "1/1000", dts_lead: int = 0
) -> VideoTimeline:
    return VideoTimeline(
        stream_index=0,
        time_base=time_base,
        pts=tuple(pts),
        last_duration=pts[1] - pts[0],
        keyframes=tuple(keyframes),
        keyframe_dts=tuple(k - dts_lead for k in keyframes),
    )


def _info(start_time: float = 0.0, *, discontinuous: bool = False) -> MediaInfo:
    return MediaInfo(
        path="src.mkv",
        format_name="matroska,webm",
        start_time=start_time,
        duration=None,
        size=1,
        streams=(StreamInfo(index=0, kind="video", codec="h264"),),
        discontinuous=discontinuous,
    )


def test_cut_frames_splits_evenly() -> None:
    assert cut_frames(list(range(150)), 6) == [0, 25, 50, 75, 100, 125]
    assert cut_frames(list(range(10)), 3) == [0, 3, 6]


def test_cut_frames_never_exceeds_frame_count() -> None:
    assert cut_frames([0, 40, 80], 10) == [0, 1, 2]


def test_cut_frames_avoids_equal_timestamps() -> None:
    # Frames 2 and 3 share a timestamp: the midpoint seek could not tell them apart.
    assert cut_frames([0, 1, 2, 2, 3, 4], 2) == [0, 4]


@pytest.mark.parametrize(
    ("duration", "seconds", "count"),
    [(6.0, 60.0, 1), (89.0, 60.0, 1), (91.0, 60.0, 2), (600.0, 60.0, 10), (6.0, 0.5, 12)],
)
def test_slice_count_rounds_to_nearest(duration: float, seconds: float, count: int) -> None:
    assert slice_count(duration, seconds) == count


def test_slice_count_rejects_non_positive_length() -> None:
    with pytest.raises(ValueError, match="slice_seconds must be positive"):
        slice_count(10.0, 0)


def test_seek_is_none_when_the_first_keyframe_is_needed() -> None:
    timeline = _timeline(list(range(0, 4000, 40)), [0, 2000])
    assert seek_time(timeline, 30, start_time=0.0, discontinuous=False) is None


def test_indexed_format_seeks_past_the_cli_adjustment_onto_the_keyframe() -> None:
    timeline = _timeline(list(range(0, 6000, 40)), [0, 2000, 4000])
    # Frame 60 (2.4 s) needs the keyframe at 2.0 s.
    seek = seek_time(timeline, 60, start_time=0.0, discontinuous=False)
    assert seek == pytest.approx(2.0 + CLI_SEEK_ADJUSTMENT)


def test_indexed_format_seeks_exactly_when_the_adjustment_would_pass_the_frame() -> None:
    timeline = _timeline(list(range(0, 6000, 40)), [0, 2000, 4000])
    # Frame 51 (2.04 s) is too close to its keyframe for the compensation.
    assert seek_time(timeline, 51, start_time=0.0, discontinuous=False) == pytest.approx(2.0)


def test_open_gop_leading_frame_seeks_to_the_previous_keyframe() -> None:
    timeline = _timeline(list(range(0, 6000, 40)), [0, 2000, 4000])
    # Frame 49 (1.96 s) is presented before the keyframe at 2.0 s: it needs the group at 0.
    assert seek_time(timeline, 49, start_time=0.0, discontinuous=False) is None


def test_discontinuous_format_seeks_before_the_keyframe_dts() -> None:
    timeline = _timeline(
        [1_026_000 + 3003 * n for n in range(150)],
        [1_026_000, 1_314_288],
        time_base="1/90000",
        dts_lead=15015,
    )
    seek = seek_time(timeline, 103, start_time=11.376778, discontinuous=True)
    expected = (1_314_288 - 15015) / 90000 - 11.376778 - DISCONTINUOUS_SEEK_MARGIN
    assert seek is not None
    assert expected - 1e-6 <= seek <= expected


def test_plan_slices_cover_every_frame_with_midpoint_cuts(tmp_path: Path) -> None:
    source = tmp_path / "src.mkv"
    source.write_bytes(b"x")
    pts = [0, 40, 90, 120, 170, 200, 260, 280]  # variable frame rate
    timeline = _timeline(pts, [0, 170])

    plan = build_plan(source=source, info=_info(), timeline=timeline, slice_seconds=0.08)

    assert [(s.first_frame, s.frames) for s in plan.slices] == [(0, 2), (2, 2), (4, 2), (6, 2)]
    assert [s.cut for s in plan.slices] == [None, 0.065, 0.145, 0.23]
    assert [s.first_pts for s in plan.slices] == [0.0, 0.09, 0.17, 0.26]
    assert [s.duration for s in plan.slices] == pytest.approx([0.09, 0.08, 0.09, 0.06])
    assert sum(s.duration for s in plan.slices) == pytest.approx(plan.video_duration)
    assert plan.frames == 8


def test_plan_round_trips_through_the_work_directory(tmp_path: Path) -> None:
    source = tmp_path / "src.mkv"
    source.write_bytes(b"x")
    plan = build_plan(
        source=source,
        info=_info(),
        timeline=_timeline(list(range(0, 4000, 40)), [0, 2000]),
        slice_seconds=1.0,
    )
    write_plan(tmp_path / "work", plan)

    loaded = load_plan(tmp_path / "work", source)

    assert loaded == plan
    assert Plan.from_json(plan.to_json()) == plan
    assert loaded.fanout_items()[0] == {"index": 0, "frames": 25}


def test_plan_refuses_a_changed_source(tmp_path: Path) -> None:
    source = tmp_path / "src.mkv"
    source.write_bytes(b"x")
    plan = build_plan(
        source=source,
        info=_info(),
        timeline=_timeline(list(range(0, 4000, 40)), [0]),
        slice_seconds=1.0,
    )
    write_plan(tmp_path / "work", plan)
    os.utime(source, ns=(0, 0))

    with pytest.raises(StepError, match="source changed during the job"):
        load_plan(tmp_path / "work", source)
    other = tmp_path / "other.mkv"
    other.write_bytes(b"x")
    with pytest.raises(StepError, match="is not the planned file"):
        load_plan(tmp_path / "work", other)


@pytest.mark.parametrize(
    ("duration", "slice_seconds", "min_slices", "expected"),
    [
        (120.0, 60.0, 1, 2),  # the profile's length decides
        (120.0, 60.0, 8, 8),  # 8 workers: 8 slices of 15 s
        (20.0, 60.0, 8, 4),  # never shorter than MIN_SLICE_SECONDS (5 s)
        (4.0, 60.0, 8, 1),  # too short to cut at all
        (600.0, 60.0, 4, 10),  # more slices than workers already
    ],
)
def test_slice_count_fills_the_workers_without_tiny_slices(
    duration: float, slice_seconds: float, min_slices: int, expected: int
) -> None:
    assert slice_count(duration, slice_seconds, min_slices) == expected
