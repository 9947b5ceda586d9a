"""The resolved profile, its skip rules, and the resolution of one file through the cascade.

See :mod:`clustercode.profiles.profileset` for the file format.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustercode.errors import PathOutsideLibraryError
from clustercode.library.mediainfo import MediaInfo
from clustercode.profiles._schema import DEFAULTS, format_bits, format_bytes
from pipelines.settings import Container, EncodeSettings, StreamKeep

__all__ = ["Profile", "Resolution", "SkipRules", "skip_reason"]

_HASH_VERSION = 1
_ENCODER_CODECS = {
    "libx264": "h264",
    "libx265": "hevc",
    "libsvtav1": "av1",
    "libaom-av1": "av1",
    "librav1e": "av1",
    "libvpx-vp9": "vp9",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipRules:
    """When a profile leaves a file alone; ``None`` disables a bound.

    Attributes:
        codecs: video codecs already good enough (``hevc``, ``av1``, ...).
        min_height: skip files shorter than this (pixels).
        max_height: skip files taller than this.
        min_bitrate: skip files whose video bit rate is below this (bits/s): already small.
        max_bitrate: skip files whose video bit rate is above this.
        min_size: skip files smaller than this (bytes).
        max_size: skip files larger than this.
    """

    codecs: tuple[str, ...] = ()
    min_height: int | None = None
    max_height: int | None = None
    min_bitrate: int | None = None
    max_bitrate: int | None = None
    min_size: int | None = None
    max_size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A fully resolved profile: every setting has a value.

    Attributes:
        name: the named profile it started from.
        description: free text for listings.
        video: ffmpeg output arguments of every slice's video encode.
        audio: ``None`` copies the audio; otherwise ffmpeg arguments applied once to the file.
        keep: which non-video streams the output keeps.
        container: ``mkv`` or ``mp4``.
        slice_seconds: target slice length in seconds.
        threads: ``-threads`` of one slice encode.
        skip: skip rules.
        include: name patterns a file must match one of (empty: all).
        exclude: name patterns that leave a file out.
        output: output naming template.
        priority: higher runs first.
    """

    name: str
    description: str = ""
    video: tuple[str, ...]
    audio: tuple[str, ...] | None = None
    keep: StreamKeep = field(default_factory=StreamKeep)
    container: Container = "mkv"
    slice_seconds: float = 60.0
    threads: int = 1
    skip: SkipRules = field(default_factory=SkipRules)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    output: str = "{stem}.{container}"
    priority: int = 0

    @classmethod
    def from_values(cls, name: str, values: Mapping[str, Any]) -> Profile:
        """Build a profile from flat dotted values (``skip.min_height``); see ``DEFAULTS``."""
        v = {**DEFAULTS, **values}
        return cls(
            name=name,
            description=v["description"],
            video=v["video"],
            audio=v["audio"],
            keep=StreamKeep(**{k[5:]: v[k] for k in v if k.startswith("keep.")}),
            container=v["container"],
            slice_seconds=v["slice_seconds"],
            threads=v["threads"],
            skip=SkipRules(**{k[5:]: v[k] for k in v if k.startswith("skip.")}),
            include=v["include"],
            exclude=v["exclude"],
            output=v["output"],
            priority=v["priority"],
        )

    def values(self) -> dict[str, Any]:
        """Every setting under its flat dotted key, as :attr:`Resolution.origins` names them."""
        flat: dict[str, Any] = {}
        for key in ("description", "video", "audio", "container", "slice_seconds", "threads"):
            flat[key] = getattr(self, key)
        for key in StreamKeep.__dataclass_fields__:
            flat[f"keep.{key}"] = getattr(self.keep, key)
        for key in SkipRules.__dataclass_fields__:
            flat[f"skip.{key}"] = getattr(self.skip, key)
        for key in ("include", "exclude", "output", "priority"):
            flat[key] = getattr(self, key)
        return flat

    @property
    def video_encoder(self) -> str:
        """The ffmpeg video encoder the profile names (the value after the last ``-c:v``)."""
        encoder = ""
        for flag, value in zip(self.video, self.video[1:], strict=False):
            if flag in ("-c:v", "-codec:v", "-vcodec", "-c:V", "-codec:V"):
                encoder = value
        return encoder

    @property
    def video_codec(self) -> str:
        """The codec the output's video will have (``h264`` for ``libx264``), for verification."""
        return _ENCODER_CODECS.get(self.video_encoder, self.video_encoder)

    def encode_settings(self, slice_seconds: float | None = None) -> EncodeSettings:
        """The settings the pipeline steps receive.

        Args:
            slice_seconds: overrides the profile's slice length (``Settings.slice_seconds``).
        """
        return EncodeSettings(
            video=self.video,
            audio=self.audio,
            container=self.container,
            slice_seconds=slice_seconds or self.slice_seconds,
            threads=self.threads,
            keep=self.keep,
        )

    def settings_hash(self) -> str:
        """Return 16 hex digits of SHA-256 over what decides the output's content.

        Covered: video and audio arguments, streams kept, container. Not covered: slice length
        and threads (they move bytes a little, but not quality or content: changing them must
        not requeue a library), skip rules, naming and priority (they decide *whether* and
        *where*, not *what*). A file done under the same profile name and hash is never redone.
        """
        return _settings_hash(self)

    def output_path(self, source: Path, library_root: Path, output_root: Path) -> Path:
        """Where the output of ``source`` goes: its path below the library root, mirrored.

        The template names the file inside the mirrored directory; a template that uses
        ``{relpath_parent}`` places itself below ``output_root`` instead. With
        ``output_root == library_root`` (in-place mode) the output lands beside the source.

        Raises:
            PathOutsideLibraryError: ``source`` is not below ``library_root``.
        """
        rel = _relative(source, library_root)
        parent = rel.parent.as_posix()
        text = self.output.format(
            stem=rel.stem,
            name=rel.name,
            ext=rel.suffix.lstrip("."),
            container=self.container,
            profile=self.name,
            relpath_parent="" if parent == "." else parent,
        )
        parts = [p for p in text.split("/") if p]
        if "{relpath_parent}" in self.output:
            return output_root.joinpath(*parts)
        return output_root.joinpath(rel.parent, *parts)


def skip_reason(profile: Profile, info: MediaInfo) -> str | None:
    """Why ``profile`` leaves the probed file alone, or ``None`` if it transcodes it.

    Checks, in order: a video stream exists, the codec rule, height, video bit rate (the
    stream's, else the container's), size.
    """
    rules = profile.skip
    if info.video_codec is None:
        return "no video stream"
    if info.video_codec in rules.codecs:
        return f"already {info.video_codec}"
    height = info.height
    if height is not None and rules.min_height is not None and height < rules.min_height:
        return f"height {height} below min_height {rules.min_height}"
    if height is not None and rules.max_height is not None and height > rules.max_height:
        return f"height {height} above max_height {rules.max_height}"
    rate = info.effective_bit_rate
    if rate is not None and rules.min_bitrate is not None and rate < rules.min_bitrate:
        return f"bit rate {format_bits(rate)} below min_bitrate {format_bits(rules.min_bitrate)}"
    if rate is not None and rules.max_bitrate is not None and rate > rules.max_bitrate:
        return f"bit rate {format_bits(rate)} above max_bitrate {format_bits(rules.max_bitrate)}"
    return _size_reason(rules, info.size)


def _size_reason(rules: SkipRules, size: int) -> str | None:
    if rules.min_size is not None and size < rules.min_size:
        return f"size {format_bytes(size)} below min_size {format_bytes(rules.min_size)}"
    if rules.max_size is not None and size > rules.max_size:
        return f"size {format_bytes(size)} above max_size {format_bytes(rules.max_size)}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """The profile that applies to one file, and where each of its settings came from.

    Attributes:
        path: the media file.
        library_root: its library root.
        profile: the effective profile (cascade overrides applied).
        origins: flat setting key (and ``profile``, ``ignore``) to its source, e.g.
            ``{"profile": "/lib/.clustercode.yaml line 1", "video": "built-in hevc line 3",
            "priority": "/lib/a/.clustercode.yaml line 2", "threads": "default"}``.
        files: the cascade files that exist for this file, root first, companion last.
        ignored: where ``ignore: true`` was set, or ``None``.
    """

    path: Path
    library_root: Path
    profile: Profile
    origins: Mapping[str, str]
    files: tuple[Path, ...]
    ignored: str | None = None

    def pre_skip_reason(self, size: int | None = None) -> str | None:
        """Why the file is left alone before probing it: ignored, name patterns, size.

        Args:
            size: the file's size, if known (from the scan).
        """
        if self.ignored is not None:
            return f"ignored by {self.ignored}"
        profile = self.profile
        if profile.include or profile.exclude:
            # resolve() guarantees path is below library_root, so slicing gives the relative path.
            root = os.fspath(self.library_root).rstrip(os.sep)
            rel = os.fspath(self.path)[len(root) + 1 :].replace(os.sep, "/").lower()
            name = rel.rpartition("/")[2]
            if profile.include and not any(_matches(p, name, rel) for p in profile.include):
                return f"name matches no include pattern ({', '.join(profile.include)})"
            for pattern in profile.exclude:
                if _matches(pattern, name, rel):
                    return f"name matches exclude pattern {pattern!r}"
        return None if size is None else _size_reason(profile.skip, size)

    def output_path(self, output_root: Path) -> Path:
        """The output path of this file under ``output_root``; see :meth:`Profile.output_path`."""
        return self.profile.output_path(self.path, self.library_root, output_root)

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of ``(setting, value, origin)`` for ``explain``, ``profile`` first."""
        rows = [("profile", self.profile.name, self.origins.get("profile", "default"))]
        if self.ignored is not None:
            rows.append(("ignore", "true", self.ignored))
        for key, value in self.profile.values().items():
            shown = "copy" if key == "audio" and value is None else _show(value)
            rows.append((key, shown, self.origins.get(key, "default")))
        return rows


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return " ".join(str(v) for v in value) if value else "-"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _matches(pattern: str, name: str, rel: str) -> bool:
    return fnmatch.fnmatchcase(rel if "/" in pattern else name, pattern.lower())


def _relative(source: Path, library_root: Path) -> Path:
    try:
        return source.relative_to(library_root)
    except ValueError:
        raise PathOutsideLibraryError(
            "path", f"{source} is not inside library root {library_root}"
        ) from None


@functools.lru_cache(maxsize=1024)
def _settings_hash(profile: Profile) -> str:
    # Cached: a scan asks for it once per file, and a library has few distinct profiles.
    payload = {
        "v": _HASH_VERSION,
        "video": list(profile.video),
        "audio": None if profile.audio is None else list(profile.audio),
        "keep": {k: getattr(profile.keep, k) for k in StreamKeep.__dataclass_fields__},
        "container": profile.container,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
