"""What one transcode does to one file, as the step programs receive it.

The control plane turns a user's profile into an :class:`EncodeSettings` and passes it to every
step as one JSON workflow parameter, so a step needs nothing but its command line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Container = Literal["mkv", "mp4"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamKeep:
    """Which non-video streams of the source the output keeps (all by default)."""

    audio: bool = True
    subtitles: bool = True
    attachments: bool = True
    chapters: bool = True
    data: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EncodeSettings:
    """Encoder settings for one job.

    Attributes:
        video: ffmpeg output arguments for the video of every slice, e.g.
            ``["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]``.
        audio: ``None`` to copy every kept audio track, or ffmpeg arguments applied once to the
            whole file's audio (never per slice).
        container: output container.
        slice_seconds: target slice length; slices are of about equal length.
        threads: ``-threads`` for one slice encode.
        keep: which non-video streams to keep.
        min_slices: cut at least this many slices (so that many workers have work), as long as
            each stays at least :data:`MIN_SLICE_SECONDS` long; slices get shorter than
            ``slice_seconds`` for that.
    """

    video: tuple[str, ...]
    audio: tuple[str, ...] | None = None
    container: Container = "mkv"
    slice_seconds: float = 60.0
    threads: int = 1
    keep: StreamKeep = field(default_factory=StreamKeep)
    min_slices: int = 1

    def to_json(self) -> str:
        """Serialise to the JSON string that travels as a workflow parameter."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> EncodeSettings:
        """Parse the JSON produced by :meth:`to_json`.

        Raises:
            ValueError: the text is not valid settings JSON.
        """
        try:
            raw: dict[str, Any] = json.loads(text)
            audio = raw.get("audio")
            return cls(
                video=tuple(str(a) for a in raw["video"]),
                audio=None if audio is None else tuple(str(a) for a in audio),
                container=raw.get("container", "mkv"),
                slice_seconds=float(raw.get("slice_seconds", 60.0)),
                threads=int(raw.get("threads", 1)),
                keep=StreamKeep(**raw.get("keep", {})),
                min_slices=int(raw.get("min_slices", 1)),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid encode settings: {exc}") from exc
