"""The final mux: encoded video joined from the slices, everything else from the source.

The slices are read through ffmpeg's concat demuxer, so the join and the mux are one run; a
second output hashes every joined video packet (``framemd5``, stream copy) for ``merge`` to
compare with the slices' records.

Streams are listed explicitly, one ``-map`` each, so the output holds exactly what the settings
keep, in a fixed order (video, audio, subtitles, data, attachments, cover images), and every
stream gets its source dispositions set explicitly: left alone, ffmpeg marks the first audio
and subtitle track default even when the source had no default track.

Cover images need care in Matroska: the demuxer exposes an image attachment as a one-picture
video stream, and a stream-copy writes it back as an MJPEG video track (still so in ffmpeg 9).
So covers are extracted and attached again as files (``-attach``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.media import MediaInfo, StreamInfo
from pipelines.settings import EncodeSettings
from pipelines.steps._packets import framemd5_args
from pipelines.steps.errors import StepError
from pipelines.steps.verify import TEXT_SUBTITLES, kept_attachments

# Input numbers of the final mux.
VIDEO_INPUT = 0
SOURCE_INPUT = 1
AUDIO_INPUT = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class MuxInputs:
    """The files the final mux reads.

    Attributes:
        video: the concat demuxer's list of the slices.
        video_offset: where the first frame belongs: source first video pts minus the start
            time that ffmpeg subtracts from the source (it shifts every input to start at 0).
        source: the original file.
        audio: the audio encoded once for the whole file, or ``None`` to copy the source's.
        audio_offset: the encoded audio file's own start time, restored the same way.
        covers: extracted cover images by source stream index (Matroska output only).
        hashes: where the second output writes the joined video packets' hashes; ``None``
            for no second output.
    """

    video: Path
    video_offset: float
    source: Path
    audio: Path | None = None
    audio_offset: float = 0.0
    covers: Mapping[int, Path] | None = None
    hashes: Path | None = None


def _disposition(stream: StreamInfo) -> str:
    flags = [d for d in stream.dispositions if d != "attached_pic"]
    return "+".join(flags) if flags else "0"


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def mux_command(
    *,
    inputs: MuxInputs,
    source: MediaInfo,
    video_index: int,
    settings: EncodeSettings,
    output: Path,
) -> list[str]:
    """ffmpeg arguments (after the global ones) of the final mux into ``output``.

    Raises:
        StepError: a kept stream cannot be stored in the chosen container.
    """
    keep = settings.keep
    mp4 = settings.container == "mp4"
    video = source.streams[video_index]
    # auto_convert off: the demuxer would rewrite H.264 packets to start codes (5.1 does), and
    # the hashes would no longer match the records of the stored packets.
    args = ["-f", "concat", "-safe", "0", "-auto_convert", "0"]
    args += ["-itsoffset", _seconds(inputs.video_offset), "-i", str(inputs.video)]
    args += ["-i", str(inputs.source)]
    if inputs.audio is not None:
        args += ["-itsoffset", _seconds(inputs.audio_offset), "-i", str(inputs.audio)]
    maps: list[str] = [
        "-map",
        f"{VIDEO_INPUT}:v:0",
        "-map_metadata:s:0",
        f"{SOURCE_INPUT}:s:{video_index}",
        "-disposition:0",
        _disposition(video),
    ]
    out = 1

    def add(spec: str, stream: StreamInfo, *extra: str, disposition: str | None = None) -> None:
        nonlocal out
        flags = disposition or _disposition(stream)
        maps.extend(["-map", spec, f"-disposition:{out}", flags])
        # Tags always come from the source stream itself (also for encoded audio). Naming one
        # stream's metadata source turns ffmpeg's automatic per-stream copy off for all
        # streams, so every stream names its own.
        maps.extend([f"-map_metadata:s:{out}", f"{SOURCE_INPUT}:s:{stream.index}"])
        maps.extend(a.replace("{out}", str(out)) for a in extra)
        out += 1

    if keep.audio:
        for number, stream in enumerate(source.of_kind("audio")):
            if inputs.audio is not None:
                add(f"{AUDIO_INPUT}:a:{number}", stream)
            else:
                add(f"{SOURCE_INPUT}:{stream.index}", stream)
    if keep.subtitles:
        for stream in source.of_kind("subtitle"):
            if not mp4:
                add(f"{SOURCE_INPUT}:{stream.index}", stream)
            elif stream.codec in TEXT_SUBTITLES:
                add(f"{SOURCE_INPUT}:{stream.index}", stream, "-c:{out}", "mov_text")
            else:
                raise StepError(
                    f"subtitle stream {stream.index} ({stream.codec}) cannot be stored in mp4; "
                    "use container mkv or drop subtitles"
                )
    if keep.data:
        for stream in source.of_kind("data"):
            add(f"{SOURCE_INPUT}:{stream.index}", stream)
    attach: list[str] = []
    if keep.attachments:
        for stream in kept_attachments(source, settings.container):
            if not stream.cover:
                add(f"{SOURCE_INPUT}:{stream.index}", stream)
            elif mp4:
                add(f"{SOURCE_INPUT}:{stream.index}", stream, disposition="attached_pic")
            else:
                attach += _attach_cover(stream, (inputs.covers or {}).get(stream.index), out)
                out += 1
    # Stream copy first: a later ``-c`` would override the per-stream ``-c:N mov_text``.
    args += ["-c", "copy", *maps, *attach, "-map_metadata", str(SOURCE_INPUT)]
    args += ["-map_chapters", str(SOURCE_INPUT) if keep.chapters else "-1"]
    if mp4:
        args += ["-movflags", "+faststart", "-f", "mp4"]
    else:
        args += ["-f", "matroska"]
    args += ["-y", str(output)]
    if inputs.hashes is not None:
        args += ["-map", f"{VIDEO_INPUT}:v:0", *framemd5_args(inputs.hashes)]
    return args


def _attach_cover(stream: StreamInfo, picture: Path | None, out: int) -> list[str]:
    if picture is None:
        raise StepError(f"cover image of stream {stream.index} was not extracted")
    args = ["-attach", str(picture)]
    args += [f"-metadata:s:{out}", f"mimetype={stream.mimetype or _mimetype(picture)}"]
    args += [f"-metadata:s:{out}", f"filename={stream.filename or picture.name}"]
    return args


def _mimetype(picture: Path) -> str:
    return "image/png" if picture.suffix.lower() == ".png" else "image/jpeg"
