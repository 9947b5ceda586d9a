"""The profile file format: which keys exist, what each accepts, and the messages when not.

A parsed file becomes a :class:`Layer`: its values under flat dotted keys (``video``,
``skip.min_height``, ``keep.audio``), each with the line it was written on, so merging layers
and reporting where a setting came from are both plain dictionary work.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from clustercode.config.yamlnodes import Entry, YamlProblem, construct, describe, entries, line_of

__all__ = [
    "CASCADE_KEYS",
    "DEFAULTS",
    "OUTPUT_PLACEHOLDERS",
    "PROFILE_KEYS",
    "Layer",
    "format_bits",
    "format_bytes",
    "parse_layer",
]

OUTPUT_PLACEHOLDERS = ("stem", "name", "ext", "container", "profile", "relpath_parent")

# Output options clustercode sets itself: a profile that set them would break slicing,
# progress reporting or the final mux.
_RESERVED_ARGS = frozenset(
    [
        "-i",
        "-ss",
        "-sseof",
        "-t",
        "-to",
        "-frames",
        "-frames:v",
        "-vframes",
        "-map",
        "-map_metadata",
        "-map_chapters",
        "-f",
        "-y",
        "-n",
        "-progress",
        "-stats",
        "-nostats",
        "-nostdin",
        "-threads",
        "-itsoffset",
        "-fps_mode",
        "-vsync",
    ]
)
_VIDEO_CODEC_OPTS = frozenset({"-c:v", "-codec:v", "-vcodec", "-c:V", "-codec:V"})
_CODEC_ALIASES = {"h265": "hevc", "x265": "hevc", "h.265": "hevc", "avc": "h264", "x264": "h264"}
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?(b|bps|b/s)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Layer:
    """One parsed profile or ``.clustercode.yaml`` file.

    Compared by identity: the resolver caches merges keyed by the layers they came from.

    Attributes:
        source: the file's path, or ``built-in NAME``.
        values: the settings the file makes, under flat dotted keys; also ``extends`` (profile
            files), ``profile`` and ``ignore`` (cascade files) when given.
        lines: the line each key was written on.
    """

    source: str
    values: Mapping[str, Any] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)

    def origin(self, key: str) -> str:
        """Where a key was set, e.g. ``/lib/.clustercode.yaml line 3``."""
        return f"{self.source} line {self.lines[key]}"


Parser = Callable[[yaml.Node, str], Any]


def _fail(node: yaml.Node, key: str, expected: str) -> YamlProblem:
    return YamlProblem(line_of(node), f"{key}: expected {expected}, got {describe(node)}")


def _args(node: yaml.Node, key: str) -> tuple[str, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(node, key, "a list of ffmpeg arguments")
    args: list[str] = []
    for index, item in enumerate(node.value, start=1):
        value = construct(item) if isinstance(item, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise YamlProblem(
                line_of(item), f"{key}: argument {index} must be text, got {describe(item)}"
            )
        text = str(value)
        if text in _RESERVED_ARGS:
            raise YamlProblem(line_of(item), f"{key}: '{text}' is set by clustercode; remove it")
        args.append(text)
    return tuple(args)


def _video(node: yaml.Node, key: str) -> tuple[str, ...]:
    args = _args(node, key)
    encoders = [args[i + 1] for i, a in enumerate(args[:-1]) if a in _VIDEO_CODEC_OPTS]
    if not encoders:
        raise YamlProblem(
            line_of(node), f"{key}: no video encoder; add -c:v and an encoder, e.g. libx264"
        )
    if "copy" in encoders:
        raise YamlProblem(
            line_of(node), f"{key}: '-c:v copy' cannot be cut into slices; name an encoder"
        )
    return args


def _audio(node: yaml.Node, key: str) -> tuple[str, ...] | None:
    if isinstance(node, yaml.ScalarNode) and construct(node) == "copy":
        return None
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(node, key, "'copy' or a list of ffmpeg arguments")
    return _args(node, key)


def _text(node: yaml.Node, key: str) -> str:
    value = construct(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, str):
        raise _fail(node, key, "text")
    return value


def _name(node: yaml.Node, key: str) -> str:
    value = construct(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, str) or not value:
        raise _fail(node, key, "a profile name")
    return value


def _bool(node: yaml.Node, key: str) -> bool:
    value = construct(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, bool):
        raise _fail(node, key, "true or false")
    return value


def _container(node: yaml.Node, key: str) -> str:
    value = construct(node) if isinstance(node, yaml.ScalarNode) else None
    if value not in ("mkv", "mp4"):
        raise _fail(node, key, "mkv or mp4")
    return str(value)


def _number(node: yaml.Node) -> int | float | None:
    value = construct(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _seconds(node: yaml.Node, key: str) -> float:
    value = _number(node)
    if value is None or value <= 0:
        raise _fail(node, key, "a positive number of seconds")
    return float(value)


def _whole(minimum: int, expected: str) -> Parser:
    def parse(node: yaml.Node, key: str) -> int:
        value = _number(node)
        if not isinstance(value, int) or value < minimum:
            raise _fail(node, key, expected)
        return value

    return parse


def _amount(expected: str) -> Parser:
    """A size or bit rate: a number, or text such as ``500M``, ``4GiB``, ``2.5Mbps``."""

    def parse(node: yaml.Node, key: str) -> int | None:
        value = construct(node) if isinstance(node, yaml.ScalarNode) else ...
        if value is None:
            return None  # null clears a rule set by a parent profile or directory
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        match = _AMOUNT.match(value) if isinstance(value, str) else None
        if match is None:
            raise _fail(node, key, expected)
        unit = (match.group(2) or "").lower()
        scale = _BINARY[unit] if unit in _BINARY else _UNITS[unit]
        return round(float(match.group(1)) * scale)

    return parse


def _height(node: yaml.Node, key: str) -> int | None:
    if isinstance(node, yaml.ScalarNode) and construct(node) is None:
        return None
    return int(_whole(1, "a height in pixels")(node, key))


def _codecs(node: yaml.Node, key: str) -> tuple[str, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(node, key, "a list of codec names such as [hevc, av1]")
    names = []
    for item in node.value:
        value = construct(item) if isinstance(item, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value:
            raise _fail(item, key, "a codec name")
        names.append(_CODEC_ALIASES.get(value.lower(), value.lower()))
    return tuple(names)


def _patterns(node: yaml.Node, key: str) -> tuple[str, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise _fail(node, key, "a list of name patterns such as ['*.mkv']")
    patterns = []
    for item in node.value:
        value = construct(item) if isinstance(item, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value:
            raise _fail(item, key, "a name pattern")
        patterns.append(value)
    return tuple(patterns)


def _template(node: yaml.Node, key: str) -> str:
    text = _text(node, key)
    where = line_of(node)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise YamlProblem(where, f"{key}: invalid template {text!r}: {exc}") from exc
    known = ", ".join("{" + p + "}" for p in OUTPUT_PLACEHOLDERS)
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in OUTPUT_PLACEHOLDERS or spec or conversion:
            suffix = (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raw = "{" + name + suffix + "}"
            raise YamlProblem(where, f"{key}: unknown placeholder '{raw}'; use {known}")
    parts = text.replace("\\", "/").split("/")
    if text.startswith("/") or ".." in parts or not parts[-1]:
        raise YamlProblem(
            where, f"{key}: {text!r} must be a relative file name, without '..' or a final '/'"
        )
    return text


_SKIP_FIELDS: dict[str, Parser] = {
    "codecs": _codecs,
    "min_height": _height,
    "max_height": _height,
    "min_bitrate": _amount("a bit rate such as 2M or 2500k"),
    "max_bitrate": _amount("a bit rate such as 2M or 2500k"),
    "min_size": _amount("a size such as 500M or 4GiB"),
    "max_size": _amount("a size such as 500M or 4GiB"),
}
_KEEP_FIELDS = ("audio", "subtitles", "attachments", "chapters", "data")

_FIELDS: dict[str, Parser] = {
    "description": _text,
    "video": _video,
    "audio": _audio,
    "container": _container,
    "slice_seconds": _seconds,
    "threads": _whole(0, "a whole number >= 0 (0: the encoder chooses)"),
    "include": _patterns,
    "exclude": _patterns,
    "output": _template,
    "priority": _whole(-(10**9), "a whole number"),
}

PROFILE_KEYS = frozenset({"extends", *_FIELDS, "keep", "skip"})
"""Top-level keys of a named profile file."""

CASCADE_KEYS = frozenset({"profile", "ignore", *_FIELDS, "keep", "skip"} - {"description"})
"""Top-level keys of a ``.clustercode.yaml`` file."""

DEFAULTS: Mapping[str, Any] = {
    "description": "",
    "audio": None,
    **{f"keep.{k}": k != "data" for k in _KEEP_FIELDS},
    "container": "mkv",
    "slice_seconds": 60.0,
    "threads": 1,
    "skip.codecs": (),
    **{f"skip.{k}": None for k in _SKIP_FIELDS if k != "codecs"},
    "include": (),
    "exclude": (),
    "output": "{stem}.{container}",
    "priority": 0,
}
"""Values of settings no profile sets (``video`` has none: a profile must give it)."""


def _unknown(entry: Entry, known: frozenset[str] | tuple[str, ...], prefix: str) -> YamlProblem:
    close = difflib.get_close_matches(entry.key, list(known), n=1)
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
    return YamlProblem(entry.line, f"unknown key '{prefix}{entry.key}'{hint}")


def _nested(
    entry: Entry, parsers: Mapping[str, Parser], values: dict[str, Any], lines: dict[str, int]
) -> None:
    for sub in entries(entry.node, entry.key):
        if sub.key not in parsers:
            raise _unknown(sub, tuple(parsers), f"{entry.key}.")
        dotted = f"{entry.key}.{sub.key}"
        values[dotted] = parsers[sub.key](sub.node, dotted)
        lines[dotted] = sub.line


def parse_layer(root: yaml.Node | None, source: str, *, cascade: bool) -> Layer:
    """Validate a composed profile (or cascade) document and flatten it into a :class:`Layer`.

    Raises:
        YamlProblem: the first problem found, with its line.
    """
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if root is None:
        return Layer(source=source)
    known = CASCADE_KEYS if cascade else PROFILE_KEYS
    for entry in entries(root):
        key = entry.key
        if key not in known:
            raise _unknown(entry, known, "")
        if key == "keep":
            keep_parsers: dict[str, Parser] = dict.fromkeys(_KEEP_FIELDS, _bool)
            _nested(entry, keep_parsers, values, lines)
            continue
        if key == "skip":
            if cascade and isinstance(entry.node, yaml.ScalarNode):
                if not isinstance(construct(entry.node), bool):
                    raise _fail(entry.node, key, "true, false or a mapping of skip rules")
                values["ignore"] = _bool(entry.node, key)  # "skip: true" skips the subtree
                lines["ignore"] = entry.line
                continue
            _nested(entry, _SKIP_FIELDS, values, lines)
            continue
        if key in ("extends", "profile"):
            values[key] = _name(entry.node, key)
        elif key == "ignore":
            values[key] = _bool(entry.node, key)
        else:
            values[key] = _FIELDS[key](entry.node, key)
        lines[key] = entry.line
    return Layer(source=source, values=values, lines=lines)


def format_bytes(size: int) -> str:
    """Render a size for messages: ``734 MB``, ``4.2 GB``."""
    return _scaled(size, "B")


def format_bits(rate: int) -> str:
    """Render a bit rate for messages: ``2.5 Mb/s``."""
    return _scaled(rate, "b/s")


def _scaled(value: int, unit: str) -> str:
    for prefix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value} {unit}"
