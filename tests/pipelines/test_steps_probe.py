"""Probing with PyAV: streams, attachments, chapters, timelines, damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.probe import MediaInfo, ProbeError, cover_image, probe
from tests.pipelines.clips import ClipStore, truncate


def test_rich_mkv_streams_attachments_and_chapters(clips: ClipStore) -> None:
    info = probe(clips("rich")).info

    kinds = [(s.index, s.kind, s.codec) for s in info.streams]
    assert kinds == [
        (0, "video", "h264"),
        (1, "audio", "aac"),
        (2, "audio", "aac"),
        (3, "subtitle", "subrip"),
        (4, "subtitle", "subrip"),
        (5, "attachment", None),
        (6, "attachment", "mjpeg"),
    ]
    font, cover = info.of_kind("attachment")
    assert (font.filename, font.mimetype, font.cover) == (
        "font.ttf",
        "application/x-truetype-font",
        False,
    )
    assert (cover.filename, cover.mimetype, cover.cover) == ("cover.jpg", "image/jpeg", True)
    assert [s.forced for s in info.of_kind("subtitle")] == [False, True]
    assert [s.default for s in info.of_kind("audio")] == [True, False]
    assert info.chapters == 2
    assert info.tags["title"] == "Rich clip"
    assert info.main_video() == info.streams[0]
    assert cover_image(clips("rich"), cover.index)[:2] == b"\xff\xd8"


def test_media_info_round_trips_as_json_dict(clips: ClipStore) -> None:
    info = probe(clips("rich")).info
    assert MediaInfo.from_dict(info.to_dict()) == info


def test_mpegts_timeline_start_offset_and_keyframes(clips: ClipStore) -> None:
    probed = probe(clips("mpegts_offset"))

    assert probed.info.discontinuous is True
    assert probed.info.start_time == pytest.approx(11.376778, abs=1e-6)
    timeline = probed.timeline
    assert timeline is not None
    assert (timeline.frames, timeline.time_base) == (150, "1/90000")
    assert timeline.seconds(timeline.pts[0]) == pytest.approx(11.4)
    assert timeline.duration == pytest.approx(5.005)
    assert len(timeline.keyframes) == 4
    # B-frame reordering: each keyframe is decoded before it is shown.
    assert all(
        d < k for d, k in zip(timeline.keyframe_dts[1:], timeline.keyframes[1:], strict=True)
    )


def test_variable_frame_rate_timeline_is_in_presentation_order(clips: ClipStore) -> None:
    timeline = probe(clips("vfr")).timeline
    assert timeline is not None
    steps = {b - a for a, b in zip(timeline.pts, timeline.pts[1:], strict=False)}
    assert min(steps) > 0
    assert len(steps) > 5


def test_truncated_file_is_reported_damaged_unless_asked(clips: ClipStore, tmp_path: Path) -> None:
    half = tmp_path / "half.mkv"
    truncate(clips("h264_open_gop"), half)

    with pytest.raises(ProbeError, match=r"is damaged .*File ended prematurely"):
        probe(half)
    timeline = probe(half, damage_is_error=False).timeline
    assert timeline is not None and 0 < timeline.frames < 150
