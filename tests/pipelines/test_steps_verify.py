"""Publish checks and the final mux command, without media files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.probe import MediaInfo, StreamInfo, VideoTimeline
from pipelines.settings import EncodeSettings, StreamKeep
from pipelines.steps._mux import MuxInputs, mux_command
from pipelines.steps.errors import StepError
from pipelines.steps.verify import Expected, av_offset, expected_output, problems


def _source(*extra: StreamInfo, chapters: int = 2) -> MediaInfo:
    streams = (
        StreamInfo(index=0, kind="video", codec="h264", dispositions=("default",), first_pts=0.0),
        StreamInfo(index=1, kind="audio", codec="aac", language="eng", first_pts=-0.023),
        StreamInfo(index=2, kind="audio", codec="ac3", language="ger", first_pts=0.0),
        StreamInfo(index=3, kind="subtitle", codec="subrip", dispositions=("forced",)),
        StreamInfo(index=4, kind="attachment", codec=None, filename="f.ttf", mimetype="font/ttf"),
        StreamInfo(
            index=5,
            kind="attachment",
            codec="mjpeg",
            dispositions=("attached_pic",),
            cover=True,
            filename="cover.jpg",
            mimetype="image/jpeg",
        ),
        *extra,
    )
    return MediaInfo(
        path="src.mkv",
        format_name="matroska,webm",
        start_time=0.0,
        duration=4.0,
        size=100,
        streams=streams,
        chapters=chapters,
    )


def _timeline(frames: int = 100, step: int = 40) -> VideoTimeline:
    return VideoTimeline(
        stream_index=0,
        time_base="1/1000",
        pts=tuple(range(0, frames * step, step)),
        last_duration=step,
    )


def _expected(**keep: bool) -> Expected:
    return expected_output(
        source=_source(),
        frames=100,
        video_duration=4.0,
        keep=StreamKeep(**keep),
        container="mkv",
        video_codec="hevc",
    )


def _output(source: MediaInfo) -> MediaInfo:
    video = replace(source.streams[0], codec="hevc")
    return replace(source, streams=(video, *source.streams[1:]))


def test_identical_output_passes() -> None:
    assert problems(_output(_source()), _timeline(), _expected()) == []


def test_av_offset_is_first_audio_minus_video() -> None:
    assert av_offset(_source()) == pytest.approx(-0.023)


def test_every_shortfall_is_reported() -> None:
    output = _output(_source(chapters=1))
    output = replace(output, streams=tuple(s for s in output.streams if s.index != 3))

    found = problems(output, _timeline(frames=99), _expected())

    assert found == [
        "expected 1 subtitle streams, found 0",
        "expected 2 chapters, found 1",
        "video has 99 frames, the source has 100",
    ]


def test_wrong_codec_and_extra_video_track() -> None:
    source = _source()
    assert problems(source, _timeline(), _expected()) == ["video codec is h264, expected hevc"]
    mjpeg = StreamInfo(index=6, kind="video", codec="mjpeg")
    assert problems(_output(_source(mjpeg)), _timeline(), _expected()) == [
        "expected 1 video stream, found 2"
    ]


def test_duration_may_differ_by_one_frame_only() -> None:
    assert problems(_output(_source()), _timeline(frames=100, step=40), _expected()) == []
    long = VideoTimeline(
        stream_index=0, time_base="1/1000", pts=tuple(range(0, 4000, 40)), last_duration=90
    )
    assert problems(_output(_source()), long, _expected()) == [
        "video lasts 4.050 s, the source 4.000 s (allowed: one frame, 41 ms)"
    ]


def test_av_offset_tolerance_is_20_ms() -> None:
    def shifted(seconds: float) -> MediaInfo:
        source = _output(_source())
        audio = replace(source.streams[1], first_pts=-0.023 + seconds)
        return replace(source, streams=(source.streams[0], audio, *source.streams[2:]))

    assert problems(shifted(0.019), _timeline(), _expected()) == []
    assert problems(shifted(0.025), _timeline(), _expected()) == [
        "audio starts +2 ms from video, in the source -23 ms (allowed: 20 ms)"
    ]


def test_keep_settings_set_the_expected_counts() -> None:
    expected = _expected(audio=False, subtitles=False, attachments=False, chapters=False)
    assert (expected.audio, expected.subtitles, expected.attachments, expected.chapters) == (
        0,
        0,
        0,
        0,
    )
    assert expected.av_offset is None


def test_mp4_expects_covers_but_not_fonts() -> None:
    expected = expected_output(
        source=_source(),
        frames=100,
        video_duration=4.0,
        keep=StreamKeep(),
        container="mp4",
        video_codec="h264",
    )
    assert expected.attachments == 1


def _command(settings: EncodeSettings, source: MediaInfo | None = None, **inputs: object) -> str:
    chosen = MuxInputs(
        video=Path("concat.txt"),
        video_offset=0.023,
        source=Path("src.mkv"),
        covers={5: Path("covers/cover_5.jpg")},
        **inputs,  # type: ignore[arg-type]
    )
    args = mux_command(
        inputs=chosen,
        source=source or _source(),
        video_index=0,
        settings=settings,
        output=Path("out.tmp"),
    )
    return " ".join(args)


def test_mkv_mux_maps_every_stream_and_reattaches_the_cover() -> None:
    command = _command(EncodeSettings(video=("-c:v", "libx265")))
    assert command.startswith(
        "-f concat -safe 0 -auto_convert 0 -itsoffset 0.023000 -i concat.txt -i src.mkv "
        "-c copy -map 0:v:0 "
        "-map_metadata:s:0 1:s:0 -disposition:0 default "
        "-map 1:1 -disposition:1 0 -map_metadata:s:1 1:s:1 "
        "-map 1:2 -disposition:2 0 -map_metadata:s:2 1:s:2 "
        "-map 1:3 -disposition:3 forced -map_metadata:s:3 1:s:3 "
        "-map 1:4 -disposition:4 0 -map_metadata:s:4 1:s:4 "
        "-attach covers/cover_5.jpg -metadata:s:5 mimetype=image/jpeg "
        "-metadata:s:5 filename=cover.jpg "
    )
    assert command.endswith("-map_metadata 1 -map_chapters 1 -f matroska -y out.tmp")
    assert "1:5" not in command  # the cover is never stream-copied as video


def test_encoded_audio_comes_from_the_audio_file_with_source_tags() -> None:
    command = _command(
        EncodeSettings(video=("-c:v", "libx265"), audio=("-c:a", "libopus")),
        audio=Path("audio.mka"),
        audio_offset=-0.0065,
    )
    assert "-itsoffset -0.006500 -i audio.mka" in command
    assert "-map 2:a:0 -disposition:1 0 -map_metadata:s:1 1:s:1" in command
    assert "-map 2:a:1 -disposition:2 0 -map_metadata:s:2 1:s:2" in command


def test_mp4_mux_converts_text_subtitles_keeps_cover_drops_fonts() -> None:
    command = _command(EncodeSettings(video=("-c:v", "libx264"), container="mp4"))
    assert "-map 1:3 -disposition:3 forced -map_metadata:s:3 1:s:3 -c:3 mov_text" in command
    assert "-map 1:5 -disposition:4 attached_pic" in command
    assert "1:4" not in command.replace("1:s:4", "")
    assert "-attach" not in command
    assert command.endswith("-movflags +faststart -f mp4 -y out.tmp")


def test_mp4_refuses_bitmap_subtitles() -> None:
    pgs = StreamInfo(index=6, kind="subtitle", codec="hdmv_pgs_subtitle")
    with pytest.raises(StepError, match="subtitle stream 6 \\(hdmv_pgs_subtitle\\) cannot be"):
        _command(EncodeSettings(video=("-c:v", "libx264"), container="mp4"), _source(pgs))


def test_dropped_streams_are_not_mapped() -> None:
    keep = StreamKeep(audio=False, subtitles=False, attachments=False, chapters=False)
    command = _command(EncodeSettings(video=("-c:v", "libx264"), keep=keep))
    assert command.count("-map ") == 1
    assert "-map_chapters -1" in command


def test_hashes_of_the_joined_video_are_a_second_output() -> None:
    command = _command(EncodeSettings(video=("-c:v", "libx264")), hashes=Path("joined.tmp"))
    first, _, second = command.partition(" -y out.tmp ")
    assert first.endswith("-f matroska")
    assert second == "-map 0:v:0 -c copy -f framemd5 -y joined.tmp"
