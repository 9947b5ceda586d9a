"""Profiles: what to do with a media file, chosen per folder by files the user edits.

**Named profiles** are YAML files: the built-ins shipped in ``clustercode/profiles/builtin/``
(``h264``, ``hevc``, ``av1``, ``ffv1``) and ``<profiles_dir>/<name>.yaml`` (or ``.yml``). A user
profile with a built-in's name replaces it; ``extends: NAME`` starts from another profile (a
profile extending its own name extends the built-in it replaces). Keys::

    extends: hevc                  # start from another profile
    description: Films, HEVC at CRF 22
    video: [-c:v, libx265, -preset, slow, -crf, "22", -x265-params, log-level=error]
    audio: copy                    # or ffmpeg arguments, applied once to the whole file
    keep: {audio: true, subtitles: true, attachments: true, chapters: true, data: false}
    container: mkv                 # or mp4
    slice_seconds: 60              # target slice length
    threads: 1                     # -threads of one slice encode (0: the encoder chooses)
    skip:                          # leave a file alone when ...
      codecs: [hevc, av1]          # ... its video already is one of these
      min_height: 720              # ... it is shorter than this (max_height: taller)
      min_bitrate: 2M              # ... its video bit rate is below this (max_bitrate: above)
      min_size: 500M               # ... it is smaller than this (max_size: larger)
    include: ["*.mkv"]             # only names matching one of these (a pattern with '/'
    exclude: ["*sample*"]          #   matches the path below the library root); case-blind
    output: "{stem}.{container}"   # {stem} {name} {ext} {container} {profile} {relpath_parent}
    priority: 0                    # higher is transcoded first

``null`` clears a skip rule set by a profile extended or a directory above.

**The cascade** picks the profile per file. For ``/lib/a/b/movie.mkv`` in library root ``/lib``
the files ``/lib/.clustercode.yaml``, ``/lib/a/.clustercode.yaml``, ``/lib/a/b/.clustercode.yaml``
and the companion ``/lib/a/b/movie.mkv.clustercode.yaml`` (the media file's full name plus
``.clustercode.yaml``, so ``movie.mkv`` and ``movie.mp4`` can differ) apply in that order, each
overriding the ones before it key by key. They accept every profile key except ``extends`` and
``description``, and::

    profile: hevc      # the named profile to start from (the nearest one wins; without any,
                       #   the library default: settings.profile, else h264)
    ignore: true       # leave this file or subtree alone ("skip: true" says the same)

Every key set in any of these files overrides the chosen profile, also when a deeper file picks
another profile: directory rules (priority, skip, naming) outlive a change of encoder.
``clustercode explain`` shows, per setting, which file and line decided it.

Editing a profile changes :meth:`Profile.settings_hash` only when the output bytes would change
(video, audio, keep, container); a file is transcoded again under a profile whose hash differs.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from clustercode.errors import NotFoundError, PathOutsideLibraryError, ProfileError
from clustercode.profiles._cascade import (
    CASCADE_FILE,
    COMPANION_SUFFIX,
    CascadeCache,
    parse_text,
    read_layer,
)
from clustercode.profiles._model import Profile, Resolution, SkipRules, skip_reason
from clustercode.profiles._schema import DEFAULTS, Layer

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

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "h264"
"""The library default when neither settings nor any ``.clustercode.yaml`` names a profile."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnknownProfileError(ProfileError, NotFoundError):
    """No profile has the name asked for."""


class ProfileSet:
    """The named profiles (built-in and the user's) and the cascade resolver.

    Load once at startup, and again to pick up edits of named profiles; cascade files are
    re-read by themselves (within ``cache_seconds``). ``resolve`` may be called from several
    threads: the caches are plain dictionaries, so a race costs at most a repeated parse.
    """

    def __init__(
        self,
        named: Mapping[str, tuple[Mapping[str, Any], Mapping[str, str], str]],
        *,
        cache_seconds: float = 2.0,
    ) -> None:
        """Use :meth:`load`; ``named`` maps a name to (values, origins, source)."""
        self._named = dict(named)
        self._profiles = {n: Profile.from_values(n, v) for n, (v, _o, _s) in named.items()}
        self._cascade = CascadeCache(cache_seconds)
        self._merged: dict[tuple[str | None, tuple[Layer, ...]], _Merged] = {}
        self._generation = 0

    @classmethod
    def load(cls, profiles_dir: Path | None = None, *, cache_seconds: float = 2.0) -> ProfileSet:
        """Read the built-in profiles and every ``*.yaml``/``*.yml`` file in ``profiles_dir``.

        Raises:
            ProfileError: the directory is missing, or a profile is invalid (bad key or value,
                unknown ``extends``, a cycle of ``extends``, no ``video`` at all).
        """
        builtins: dict[str, Layer] = {}
        for item in sorted(
            resources.files("clustercode.profiles").joinpath("builtin").iterdir(),
            key=lambda t: t.name,
        ):
            if item.name.endswith(".yaml"):
                name = item.name.removesuffix(".yaml")
                label = f"built-in {name}"
                builtins[name] = parse_text(item.read_text("utf-8"), label, cascade=False)
        users: dict[str, Layer] = {}
        if profiles_dir is not None:
            users = _read_user_profiles(profiles_dir.absolute())
        named = _expand_all(builtins, users)
        log.debug("loaded profiles %s", ", ".join(sorted(named)))
        return cls(named, cache_seconds=cache_seconds)

    def names(self) -> list[str]:
        """The profile names, sorted."""
        return sorted(self._profiles)

    def get(self, name: str) -> Profile:
        """The named profile.

        Raises:
            UnknownProfileError: no such profile.
        """
        try:
            return self._profiles[name]
        except KeyError:
            raise UnknownProfileError(self._unknown(name)) from None

    def source(self, name: str) -> str:
        """Where the named profile is defined: its file, or ``built-in NAME``."""
        self.get(name)
        return self._named[name][2]

    def origins(self, name: str) -> Mapping[str, str]:
        """Where each setting of the named profile comes from (``extends`` followed)."""
        self.get(name)
        return self._named[name][1]

    def resolve(
        self,
        path: Path,
        library_root: Path,
        default: str | None = None,
        *,
        fresh: bool = False,
    ) -> Resolution:
        """The effective profile for a media file: library default, then the cascade.

        Args:
            path: the media file (absolute, below ``library_root``).
            library_root: the library root it belongs to.
            default: the library default profile (``Settings.profile``; ``None``: h264).
            fresh: re-check cascade files now instead of trusting the cache.

        Raises:
            PathOutsideLibraryError: ``path`` is not below ``library_root``.
            ProfileError: a cascade file is invalid or names an unknown profile.
            UnknownProfileError: ``default`` names no profile.
        """
        path_text, root_text = os.fspath(path), os.fspath(library_root)
        prefix = root_text if root_text.endswith(os.sep) else root_text + os.sep
        if not path_text.startswith(prefix) or f"{os.sep}." in path_text:
            path_text = os.path.normpath(Path(path_text).absolute())
            root_text = os.path.normpath(Path(root_text).absolute())
            prefix = root_text if root_text.endswith(os.sep) else root_text + os.sep
            if not path_text.startswith(prefix):
                raise PathOutsideLibraryError(
                    "path", f"{path} is not inside library root {library_root}"
                )
            path, library_root = Path(path_text), Path(root_text)
        directory, _, name = path_text.rpartition(os.sep)
        now = time.monotonic()
        chain = self._cascade.chain(directory or os.sep, root_text, now, fresh)
        companion = self._cascade.companion(directory or os.sep, name, now, fresh)
        layers = (*chain, companion) if companion is not None else chain
        if self._generation != self._cascade.generation:
            self._merged.clear()  # layers were replaced; forget merges of the old ones
            self._generation = self._cascade.generation
        merged = self._merged.get((default, layers))
        if merged is None:
            merged = self._merge(default, layers)
            self._merged[(default, layers)] = merged
        return Resolution(
            path=path,
            library_root=library_root,
            profile=merged.profile,
            origins=merged.origins,
            files=merged.files,
            ignored=merged.ignored,
        )

    def _merge(self, default: str | None, layers: tuple[Layer, ...]) -> _Merged:
        name = default or DEFAULT_PROFILE
        chosen = "library default" if default else "clustercode default"
        for layer in layers:
            if "profile" in layer.values:
                name, chosen = layer.values["profile"], layer.origin("profile")
                if name not in self._named:
                    problem = self._unknown(name)
                    raise ProfileError(
                        f"profile {layer.source} line {layer.lines['profile']}: profile: {problem}"
                    )
        if name not in self._named:
            raise UnknownProfileError(self._unknown(name))
        base_values, base_origins, _source = self._named[name]
        values, origins = dict(base_values), dict(base_origins)
        origins["profile"] = chosen
        ignored: str | None = None
        for layer in layers:
            for key, value in layer.values.items():
                if key == "ignore":
                    ignored = layer.origin(key) if value else None
                    origins[key] = layer.origin(key)
                elif key != "profile":
                    values[key] = value
                    origins[key] = layer.origin(key)
        return _Merged(
            profile=Profile.from_values(name, values),
            origins=origins,
            files=tuple(Path(layer.source) for layer in layers),
            ignored=ignored,
        )

    def _unknown(self, name: str) -> str:
        return f"unknown profile '{name}' (known: {', '.join(self.names())})"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Merged:
    profile: Profile
    origins: Mapping[str, str]
    files: tuple[Path, ...]
    ignored: str | None


def _read_user_profiles(profiles_dir: Path) -> dict[str, Layer]:
    if not profiles_dir.is_dir():
        raise ProfileError(f"profiles directory {profiles_dir} does not exist")
    users: dict[str, Layer] = {}
    for path in sorted(profiles_dir.iterdir()):
        if path.name.startswith(".") or path.suffix not in (".yaml", ".yml"):
            continue
        name = path.stem
        if not _NAME.match(name):
            raise ProfileError(
                f"profile {path}: name '{name}' may hold only letters, digits, '.', '_' and '-'"
            )
        if name in users:
            raise ProfileError(f"profile {path}: profile '{name}' is also {users[name].source}")
        users[name] = read_layer(os.fspath(path), cascade=False)
    return users


def _expand_all(
    builtins: Mapping[str, Layer], users: Mapping[str, Layer]
) -> dict[str, tuple[dict[str, Any], dict[str, str], str]]:
    """Follow ``extends`` for every profile; a user profile replaces the built-in of its name."""
    done: dict[tuple[bool, str], tuple[dict[str, Any], dict[str, str]]] = {}
    known = sorted({*builtins, *users})

    def expand(
        user: bool, name: str, trail: tuple[str, ...]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        key = (user, name)
        if key in done:
            return done[key]
        layer = users[name] if user else builtins[name]
        values: dict[str, Any] = {}
        origins: dict[str, str] = {}
        parent = layer.values.get("extends")
        if parent is not None:
            where = f"profile {layer.source} line {layer.lines['extends']}: extends:"
            if user and parent == name and name in builtins:
                base = expand(False, parent, (*trail, name))
            elif parent in trail or parent == name:
                cycle = " -> ".join((*trail, name, parent))
                raise ProfileError(f"{where} cycle {cycle}")
            elif parent in users or parent in builtins:
                base = expand(parent in users, parent, (*trail, name))
            else:
                raise ProfileError(
                    f"{where} unknown profile '{parent}' (known: {', '.join(known)})"
                )
            values, origins = dict(base[0]), dict(base[1])
            # A description describes its own file; a derived profile without one has none.
            values.pop("description", None)
            origins.pop("description", None)
        for field, value in layer.values.items():
            if field != "extends":
                values[field] = value
                origins[field] = layer.origin(field)
        if "video" not in values:
            raise ProfileError(
                f"profile {layer.source}: video: required (give the encoder arguments, "
                "or extends another profile)"
            )
        done[key] = (values, origins)
        return values, origins

    named: dict[str, tuple[dict[str, Any], dict[str, str], str]] = {}
    for name in known:
        user = name in users
        values, origins = expand(user, name, ())
        origins = {**dict.fromkeys(DEFAULTS, "default"), **origins}
        named[name] = (values, origins, (users if user else builtins)[name].source)
    return named
