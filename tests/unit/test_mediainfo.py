"""Probing real clips with PyAV, and the skip rules that read the probe."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clustercode.library.mediainfo import MediaError, MediaInfo, probe
from clustercode.profiles.profileset import Profile, ProfileSet, skip_reason
from pipelines.ffmpeg import ffmpeg_path


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_path(), "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("clips")
    srt = base / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,500\nhello\n")
    h264 = base / "h264.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=1",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
        "-i", str(srt),
        "-map", "0", "-map", "1", "-map", "1", "-map", "2",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "srt",
        str(h264),
    )  # fmt: skip
    hevc = base / "hevc.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        str(hevc),
    )  # fmt: skip
    audio = base / "audio.mka"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "flac", str(audio))
    broken = base / "broken.mkv"
    broken.write_bytes(b"\x00not a matroska file\x00" * 100)
    return {"h264": h264, "hevc": hevc, "audio": audio, "broken": broken}


def test_probe_reads_streams_and_geometry(clips: dict[str, Path]) -> None:
    info = probe(clips["h264"])
    assert info.path == clips["h264"]
    assert info.size == clips["h264"].stat().st_size
    assert info.format_name == "matroska,webm"
    assert (info.video_codec, info.width, info.height) == ("h264", 160, 90)
    assert info.frame_rate == 25.0
    assert info.pix_fmt == "yuv420p"
    assert (info.video_streams, info.audio_streams, info.subtitle_streams) == (1, 2, 1)
    assert info.attachments == 0
    assert info.duration is not None and 0.9 < info.duration < 1.2
    assert info.bit_rate is not None and info.bit_rate > 0
    assert info.effective_bit_rate == (info.video_bit_rate or info.bit_rate)
    hevc = probe(clips["hevc"])
    assert (hevc.video_codec, hevc.width, hevc.height, hevc.audio_streams) == ("hevc", 320, 180, 0)


def test_probe_of_audio_only_file(clips: dict[str, Path]) -> None:
    info = probe(clips["audio"])
    assert (info.video_codec, info.width, info.height, info.video_streams) == (None, None, None, 0)
    assert info.audio_streams == 1


def test_probe_errors_name_the_file(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe(clips["broken"])
    assert str(caught.value) == (
        f"{clips['broken']}: not a readable media file (invalid data found when processing input)"
    )
    with pytest.raises(MediaError) as caught:
        probe(tmp_path / "missing.mkv")
    assert (
        str(caught.value) == f"{tmp_path / 'missing.mkv'}: cannot read (No such file or directory)"
    )


def with_skip(profile: Profile, **rules: object) -> Profile:
    return Profile.from_values(
        profile.name, {**profile.values(), **{f"skip.{k}": v for k, v in rules.items()}}
    )


def test_skip_rules_against_probed_clips(clips: dict[str, Path]) -> None:
    profiles = ProfileSet.load(None)
    h264, hevc = profiles.get("h264"), profiles.get("hevc")
    small, big = probe(clips["h264"]), probe(clips["hevc"])
    assert skip_reason(hevc, big) == "already hevc"
    assert skip_reason(hevc, small) is None
    assert skip_reason(h264, big) is None
    assert skip_reason(h264, probe(clips["audio"])) == "no video stream"
    assert skip_reason(with_skip(h264, min_height=720), small) == "height 90 below min_height 720"
    assert skip_reason(with_skip(h264, max_height=120), big) == "height 180 above max_height 120"
    assert skip_reason(with_skip(h264, min_height=90, max_height=90), small) is None
    rate = small.effective_bit_rate
    assert rate is not None
    assert skip_reason(with_skip(h264, min_bitrate=10**9), small) == (
        f"bit rate {rate / 1000:.3g} kb/s below min_bitrate 1 Gb/s"
    )
    assert skip_reason(with_skip(h264, max_bitrate=1000), small) == (
        f"bit rate {rate / 1000:.3g} kb/s above max_bitrate 1 kb/s"
    )
    assert skip_reason(with_skip(h264, min_size=10**9), small) == (
        f"size {small.size / 1000:.3g} kB below min_size 1 GB"
    )
    assert skip_reason(with_skip(h264, max_size=100), small) == (
        f"size {small.size / 1000:.3g} kB above max_size 100 B"
    )


def test_mediainfo_is_a_frozen_value(clips: dict[str, Path]) -> None:
    info = probe(clips["hevc"])
    with pytest.raises(AttributeError):
        info.height = 1  # type: ignore[misc]
    assert isinstance(info, MediaInfo)
    assert probe(clips["hevc"]) == info
