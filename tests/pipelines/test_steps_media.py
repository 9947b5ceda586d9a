"""End to end through the step programs: the output is the source, frame for frame, stream for
stream, on every kind of clip that breaks naive chunked encoding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.ffmpeg import FFmpeg
from pipelines.probe import MediaInfo, Probe, cover_image, probe
from pipelines.steps.verify import av_offset
from tests.pipelines.clips import ClipStore
from tests.pipelines.media_checks import (
    attachment_rows,
    frame_hashes,
    relative_pts,
    stream_rows,
)
from tests.pipelines.step_driver import Transcode, lossless, transcode

# Matroska keeps milliseconds; a slice boundary, the concat and the final mux may each round.
PTS_TOLERANCE = 0.0015
AV_TOLERANCE = 0.020


def _assert_same_video(
    source: Probe, output: Probe, source_frames: list[str], output_frames: list[str]
) -> None:
    assert source.timeline is not None and output.timeline is not None
    assert output.timeline.frames == source.timeline.frames
    assert output_frames == source_frames
    one_frame = source.timeline.duration / source.timeline.frames
    assert abs(output.timeline.duration - source.timeline.duration) <= one_frame
    drift = [
        abs(a - b)
        for a, b in zip(relative_pts(source.timeline), relative_pts(output.timeline), strict=True)
    ]
    assert max(drift) <= PTS_TOLERANCE


def _assert_same_offset(source: MediaInfo, output: MediaInfo) -> None:
    expected, found = av_offset(source), av_offset(output)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert abs(found - expected) <= AV_TOLERANCE


def _assert_same_streams(source: MediaInfo, output: MediaInfo) -> None:
    assert stream_rows(output) == stream_rows(source)
    assert attachment_rows(output) == attachment_rows(source)
    assert output.chapters == source.chapters


CASES = [
    # clip, slice_seconds, expected slices
    ("h264_open_gop", 1.5, 4),
    ("vfr", 1.25, 4),
    ("mpegts_offset", 1.25, 4),
    ("hevc10_open_gop", 1.0, 4),
    ("single_keyframe", 1.0, 4),
    ("rich", 1.0, 4),
    ("h264_open_gop", 0.5, 12),
]


@pytest.mark.parametrize(
    ("clip", "slice_seconds", "slices"),
    CASES,
    ids=[f"{clip}-{n}slices" for clip, _, n in CASES],
)
def test_output_is_the_source_frame_for_frame(
    clips: ClipStore,
    ffmpeg: FFmpeg,
    source_hashes: Callable[[Path], list[str]],
    tmp_path: Path,
    clip: str,
    slice_seconds: float,
    slices: int,
) -> None:
    source = clips(clip)
    output = tmp_path / "out" / f"{clip}.mkv"
    output.parent.mkdir()

    run = transcode(source, output, lossless(slice_seconds), tmp_path / "work")

    assert len(run.slices) == slices
    assert [item["frames"] for item in run.slices] == sorted(
        (item["frames"] for item in run.slices), reverse=True
    )
    before, after = probe(source), probe(output)
    _assert_same_video(before, after, source_hashes(source), frame_hashes(ffmpeg, output))
    _assert_same_streams(before.info, after.info)
    _assert_same_offset(before.info, after.info)
    assert after.timeline is not None
    assert run.result["frames"] == after.timeline.frames
    assert run.result["video_codec"] == "ffv1"
    assert run.result["size_after"] == output.stat().st_size
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]
    assert not (tmp_path / "work").exists()


def test_rich_mkv_keeps_dispositions_tags_and_attachment_bytes(
    clips: ClipStore, tmp_path: Path
) -> None:
    source = clips("rich")
    output = tmp_path / "rich.mkv"

    transcode(source, output, lossless(2.0), tmp_path / "work")

    before, after = probe(source).info, probe(output).info
    audio = [(s.language, s.title, s.default) for s in after.of_kind("audio")]
    assert audio == [("eng", None, True), ("ger", "Commentary", False)]
    subtitles = [(s.language, s.default, s.forced) for s in after.of_kind("subtitle")]
    assert subtitles == [("eng", False, False), ("fre", False, True)]
    assert after.tags.get("title") == before.tags.get("title") == "Rich clip"
    # The cover is a file again, not an MJPEG video track (the stream-copy trap).
    assert len(after.of_kind("video")) == 1
    covers = [s for s in after.of_kind("attachment") if s.cover]
    assert [(c.filename, c.mimetype) for c in covers] == [("cover.jpg", "image/jpeg")]
    source_cover = next(s for s in before.of_kind("attachment") if s.cover)
    assert cover_image(output, covers[0].index) == cover_image(source, source_cover.index)


@pytest.mark.parametrize("clip", ["rich", "mpegts_offset"])
def test_audio_encoded_once_keeps_offset_and_track_tags(
    clips: ClipStore,
    ffmpeg: FFmpeg,
    source_hashes: Callable[[Path], list[str]],
    tmp_path: Path,
    clip: str,
) -> None:
    source = clips(clip)
    output = tmp_path / f"{clip}.mkv"
    settings = lossless(1.5, audio=("-c:a", "libopus", "-b:a", "96k"))

    transcode(source, output, settings, tmp_path / "work")

    before, after = probe(source), probe(output)
    assert [s.codec for s in after.info.of_kind("audio")] == ["opus"] * len(
        before.info.of_kind("audio")
    )
    rows = [row[2:] for row in stream_rows(after.info)]
    assert rows == [row[2:] for row in stream_rows(before.info)]
    _assert_same_video(before, after, source_hashes(source), frame_hashes(ffmpeg, output))
    _assert_same_offset(before.info, after.info)
    assert after.info.chapters == before.info.chapters


def test_mp4_output_converts_subtitles_and_drops_only_fonts(
    clips: ClipStore,
    ffmpeg: FFmpeg,
    source_hashes: Callable[[Path], list[str]],
    tmp_path: Path,
) -> None:
    source = clips("rich")
    output = tmp_path / "rich.mp4"
    settings = lossless(
        1.5, container="mp4", video=("-c:v", "libx264", "-preset", "ultrafast", "-qp", "0")
    )

    run: Transcode = transcode(source, output, settings, tmp_path / "work")

    before, after = probe(source), probe(output)
    assert run.result["video_codec"] == "h264"
    assert [s.codec for s in after.info.of_kind("subtitle")] == ["mov_text", "mov_text"]
    assert [s.forced for s in after.info.of_kind("subtitle")] == [False, True]
    assert [s.language for s in after.info.of_kind("audio")] == ["eng", "ger"]
    assert [s.cover for s in after.info.of_kind("attachment")] == [True]
    assert after.info.chapters == 2
    _assert_same_video(before, after, source_hashes(source), frame_hashes(ffmpeg, output))
    _assert_same_offset(before.info, after.info)
