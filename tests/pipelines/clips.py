"""Small test clips made with ffmpeg's lavfi sources, and ways to damage them.

Each generator writes one file that exercises one trap of chunked encoding: open GOPs with
B-frames, variable frame rate, an MPEG-TS start offset, 10-bit HEVC, many streams with
attachments and chapters, a single keyframe. Clips are tiny (320x180, a few seconds) so the
whole suite stays fast on two shared cores.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import av

SIZE = "320x180"

ClipMaker = Callable[[str, Path], None]


def _ffmpeg(ffmpeg: str, *args: str) -> None:
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _video(rate: str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate={rate}:duration={seconds}"]


def _tone(seconds: float, frequency: int = 440) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}"]


def h264_open_gop(ffmpeg: str, path: Path) -> None:
    """6 s of 25 fps H.264, B-frames and open GOPs (recovery-point I-frames), AAC audio."""
    _ffmpeg(
        ffmpeg,
        *_video("25", 6),
        *_tone(6),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-x264-params",
        "open-gop=1:keyint=50:bframes=3:b-pyramid=normal",
        "-c:a",
        "aac",
        "-y",
        str(path),
    )


def variable_frame_rate(ffmpeg: str, path: Path) -> None:
    """5 s of H.264 whose frame intervals wander between 10 and 70 ms (millisecond clock)."""
    _ffmpeg(
        ffmpeg,
        *_video("25", 5),
        *_tone(5),
        "-vf",
        "settb=1/1000,setpts='(N/25+0.015*sin(N))/TB'",
        "-fps_mode",
        "vfr",
        "-enc_time_base:v",
        "1:1000",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-x264-params",
        "bframes=3:keyint=40",
        "-c:a",
        "aac",
        "-y",
        str(path),
    )


def mpegts_offset(ffmpeg: str, path: Path) -> None:
    """5 s of 29.97 fps open-GOP H.264 in MPEG-TS starting at ~11.4 s, audio 23 ms earlier."""
    _ffmpeg(
        ffmpeg,
        *_video("30000/1001", 5),
        *_tone(5),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-x264-params",
        "open-gop=1:keyint=48:bframes=3",
        "-c:a",
        "aac",
        "-output_ts_offset",
        "10",
        "-f",
        "mpegts",
        "-y",
        str(path),
    )


def hevc10_open_gop(ffmpeg: str, path: Path) -> None:
    """4 s of 10-bit HEVC with open GOPs (CRA pictures and RASL leading frames) in MP4."""
    _ffmpeg(
        ffmpeg,
        *_video("25", 4),
        *_tone(4),
        "-pix_fmt",
        "yuv420p10le",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "open-gop=1:keyint=30:bframes=3:log-level=error",
        "-c:a",
        "aac",
        "-y",
        str(path),
    )


def single_keyframe(ffmpeg: str, path: Path) -> None:
    """4 s of H.264 with one keyframe: every slice must decode from the start of the file."""
    _ffmpeg(
        ffmpeg,
        *_video("25", 4),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-x264-params",
        "keyint=infinite:scenecut=0:bframes=2",
        "-y",
        str(path),
    )


_CHAPTERS = """;FFMETADATA1
title=Rich clip
artist=clustercode tests

[CHAPTER]
TIMEBASE=1/1000
START=0
END=2000
title=Opening

[CHAPTER]
TIMEBASE=1/1000
START=2000
END=4000
title=Ending
"""
_SUBTITLES = (
    "1\n00:00:00,500 --> 00:00:01,500\nHello\n\n2\n00:00:02,000 --> 00:00:03,000\nWorld\n",
    "1\n00:00:01,000 --> 00:00:02,000\nForced line\n",
)


def rich_mkv(ffmpeg: str, path: Path) -> None:
    """4 s mkv: H.264, two audio tracks, two subtitle tracks (one forced), chapters, tags,
    a font attachment and a cover image."""
    side = path.parent / f"{path.stem}-parts"
    side.mkdir(exist_ok=True)
    chapters = side / "chapters.txt"
    chapters.write_text(_CHAPTERS, encoding="utf-8")
    subtitles = [side / "a.srt", side / "b.srt"]
    for subtitle, text in zip(subtitles, _SUBTITLES, strict=True):
        subtitle.write_text(text, encoding="utf-8")
    font = side / "font.ttf"
    font.write_bytes(random.Random(7).randbytes(3000))
    cover = side / "cover.jpg"
    _ffmpeg(ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", "-y", str(cover))
    _ffmpeg(
        ffmpeg,
        *_video("25", 4),
        *_tone(4, 440),
        *_tone(4, 660),
        "-i",
        str(subtitles[0]),
        "-i",
        str(subtitles[1]),
        "-i",
        str(chapters),
        *("-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s", "-map", "4:s"),
        *("-map_metadata", "5", "-map_chapters", "5"),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-x264-params",
        "open-gop=1:keyint=50:bframes=3",
        *("-c:a", "aac", "-c:s", "srt"),
        *("-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=ger"),
        *("-metadata:s:a:1", "title=Commentary", "-disposition:a:0", "default"),
        *("-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fre"),
        *("-disposition:s:0", "0", "-disposition:s:1", "forced"),
        *("-attach", str(font), "-metadata:s:t:0", "mimetype=application/x-truetype-font"),
        *("-attach", str(cover), "-metadata:s:t:1", "mimetype=image/jpeg"),
        *("-metadata:s:t:1", "filename=cover.jpg"),
        "-y",
        str(path),
    )


CLIPS: dict[str, tuple[str, ClipMaker]] = {
    "h264_open_gop": ("mkv", h264_open_gop),
    "vfr": ("mkv", variable_frame_rate),
    "mpegts_offset": ("ts", mpegts_offset),
    "hevc10_open_gop": ("mp4", hevc10_open_gop),
    "single_keyframe": ("mkv", single_keyframe),
    "rich": ("mkv", rich_mkv),
}


def truncate(source: Path, target: Path) -> None:
    """Copy the first half of the bytes of ``source`` (a download cut short)."""
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def overwrite_middle(source: Path, target: Path, size: int = 4096) -> None:
    """Copy ``source`` with ``size`` random bytes in the middle (damaged container structure)."""
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = random.Random(3).randbytes(size)
    target.write_bytes(bytes(data))


def damage_video_packet(source: Path, target: Path, packet: int) -> tuple[float, int]:
    """Copy ``source`` with the middle half of one video packet's payload scrambled.

    The container stays intact, so only decoding the picture finds the damage.

    Returns:
        The damaged packet's pts in seconds and its byte position.
    """
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        chosen = packets[packet]
        position, size, pts = chosen.pos, chosen.size, chosen.pts
        time_base = stream.time_base
    assert position is not None and pts is not None and time_base is not None
    data = bytearray(source.read_bytes())
    start, end = position + size // 4, position + size * 3 // 4
    data[start:end] = random.Random(packet).randbytes(end - start)
    target.write_bytes(bytes(data))
    return float(pts * time_base), position


class ClipStore:
    """Makes each clip once per test session, on first use."""

    def __init__(self, ffmpeg: str, directory: Path) -> None:
        """Store clips made with ``ffmpeg`` in ``directory``."""
        self.ffmpeg = ffmpeg
        self.directory = directory

    def __call__(self, name: str) -> Path:
        """The path of clip ``name`` (a key of :data:`CLIPS`), made if missing."""
        extension, make = CLIPS[name]
        path = self.directory / f"{name}.{extension}"
        if not path.exists():
            partial = path.with_name(f"partial-{path.name}")
            make(self.ffmpeg, partial)
            partial.replace(path)
        return path
