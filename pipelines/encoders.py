"""Which encoders a profile's ffmpeg arguments ask for, to check them against a build."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

# -c, -c:v, -c:a:0, -codec:v, -vcodec, -acodec: every way to name an encoder.
_CODEC_OPTION = re.compile(r"^-(?:c|codec)(?::[vas](?::\d+)?)?$|^-[va]codec$")

HARDWARE_FAMILIES = ("nvenc", "qsv", "vaapi")
"""Hardware encoder families whose presence in a build is reported (not whether a device
exists)."""


def named_encoders(args: Sequence[str]) -> tuple[str, ...]:
    """Encoder names in ``args`` (``-c:v libx265`` -> ``libx265``), without ``copy``."""
    found: list[str] = []
    for option, value in itertools.pairwise(args):
        if _CODEC_OPTION.match(option) and value != "copy" and value not in found:
            found.append(value)
    return tuple(found)


def missing_encoders(args: Sequence[str], available: Iterable[str]) -> tuple[str, ...]:
    """Encoders ``args`` name that the build lacks."""
    have = set(available)
    return tuple(name for name in named_encoders(args) if name not in have)


def hardware_encoders(available: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Hardware encoders in a build by family: ``{"nvenc": ("h264_nvenc", ...), ...}``."""
    names = sorted(available)
    return {
        family: tuple(n for n in names if n.endswith(f"_{family}")) for family in HARDWARE_FAMILIES
    }
