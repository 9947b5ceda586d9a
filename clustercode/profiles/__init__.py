"""Profiles: the file format, the built-in profiles, the ``.clustercode.yaml`` cascade, and the
resolution of one media file to the profile that applies to it.

Imports ``clustercode.library`` (media info for skip rules), ``clustercode.config`` (YAML with
line numbers) and ``clustercode.errors``.
"""

from __future__ import annotations

from clustercode.profiles.profileset import (
    CASCADE_FILE,
    COMPANION_SUFFIX,
    DEFAULT_PROFILE,
    Profile,
    ProfileSet,
    Resolution,
    SkipRules,
    UnknownProfileError,
    skip_reason,
)

__all__ = [
    "CASCADE_FILE",
    "COMPANION_SUFFIX",
    "DEFAULT_PROFILE",
    "Profile",
    "ProfileSet",
    "Resolution",
    "SkipRules",
    "UnknownProfileError",
    "skip_reason",
]
