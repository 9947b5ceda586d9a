"""Proof that a slice on disk holds exactly the packets its encode step wrote.

``encode`` reads the new slice back with a stream copy (no decoding: a small fraction of the
cost of decoding it) and keeps the size and MD5 of every video packet in a record beside it,
``slice_NNNNN.packets``; the count must be the slice's frame count. ``merge`` hashes the packets
again as its final mux joins the slices (a second output of that run, so no extra read) and
compares them with the records: a slice truncated or changed on the way through a shared volume
is found there and encoded again.

The record holds the packets as the container stores them: the matroska muxer rewrites H.264 and
HEVC packets from start codes to length prefixes and drops AV1 temporal delimiters, so hashes of
the encoder's own output could not be compared with a read-back of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.steps import _atomic, _ffmpeg_run

RECORD_SUFFIX = ".packets"


def record_path(slice_file: Path) -> Path:
    """Where the packet record of a slice lives (``slice_00003.packets``)."""
    return slice_file.with_suffix(RECORD_SUFFIX)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketHashes:
    """What ``framemd5`` tells of the first stream of a stream copy.

    Attributes:
        packets: ``size:md5`` of every packet, in stored order.
        codec: the codec's name (``h264``), as ffmpeg names it.
        extradata: size and MD5 of the codec's extradata (H.264 SPS/PPS), empty if none:
            slices joined into one stream must share it.
    """

    packets: list[str]
    codec: str
    extradata: str


def parse_framemd5(text: str) -> PacketHashes:
    """The packet hashes and codec setup of stream 0 from ffmpeg's ``framemd5`` output."""
    packets = []
    codec = extradata = ""
    for line in text.splitlines():
        if line.startswith("#extradata 0,"):
            extradata = ":".join(f.strip() for f in line.split(",")[1:])
        elif line.startswith("#codec_id 0:"):
            codec = line.partition(":")[2].strip()
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            if len(fields) >= 6 and fields[0] == "0":
                packets.append(f"{fields[4]}:{fields[5]}")
    return PacketHashes(packets=packets, codec=codec, extradata=extradata)


def framemd5_args(output: Path) -> list[str]:
    """Output arguments that hash every video packet (no decoding) into ``output``."""
    return ["-c", "copy", "-f", "framemd5", "-y", str(output)]


def read_back(slice_file: Path, *, what: str) -> PacketHashes:
    """Hash every video packet of ``slice_file`` as stored (stream copy, no decoding).

    Raises:
        StepError: the file cannot be demuxed cleanly.
    """
    listing = _atomic.temp_path(record_path(slice_file), tag="readback")
    try:
        _ffmpeg_run.run(
            ["-xerror", "-i", str(slice_file), "-map", "0:v:0", *framemd5_args(listing)],
            what=what,
        )
        return parse_framemd5(listing.read_text(encoding="utf-8"))
    finally:
        _atomic.remove_quietly(listing)


def write_record(slice_file: Path, packets: Sequence[str]) -> None:
    """Keep the packet record of a slice (atomically)."""
    _atomic.write_text(record_path(slice_file), "".join(f"{p}\n" for p in packets))


def read_record(slice_file: Path) -> list[str] | None:
    """The packet record of a slice, ``None`` when there is none."""
    try:
        text = record_path(slice_file).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return text.split()


def first_difference(expected: Sequence[str], found: Sequence[str]) -> int | None:
    """Index of the first packet that differs (or is missing or extra); ``None`` if equal."""
    for index, (a, b) in enumerate(zip(expected, found, strict=False)):
        if a != b:
            return index
    if len(expected) != len(found):
        return min(len(expected), len(found))
    return None
