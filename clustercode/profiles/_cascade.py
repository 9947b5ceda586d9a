"""Reading ``.clustercode.yaml`` files up a directory chain, fast, and noticing edits.

Resolving 100,000 files must not cost a ``stat`` per file per directory level. So each
directory's state (its mtime, its parsed ``.clustercode.yaml``, the names of the companion
files in it) is cached and re-checked at most once per ``cache_seconds``; a re-check is one
``stat`` of the directory (a new, removed or renamed file changes the directory's mtime) plus one
``stat`` of an existing cascade file (an in-place edit changes only the file's mtime and size).
The chain of layers for a directory is cached the same way. Edits are therefore seen within
``cache_seconds``; ``fresh=True`` re-checks at once (``explain`` uses it).

File systems keep timestamps at the kernel's clock tick (a few milliseconds), so two changes in
one tick leave the same mtime. A stamp younger than :data:`TRUST_AFTER_NS` is therefore not
trusted: such a directory is listed, and such a file parsed, again at its next check.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from clustercode.config.yamlnodes import YamlProblem, compose
from clustercode.errors import ProfileError
from clustercode.profiles._schema import Layer, parse_layer

__all__ = ["CASCADE_FILE", "COMPANION_SUFFIX", "CascadeCache", "read_layer"]

CASCADE_FILE = ".clustercode.yaml"
"""Name of the per-directory settings file."""

COMPANION_SUFFIX = ".clustercode.yaml"
"""Appended to a media file's full name to name its companion: ``movie.mkv.clustercode.yaml``."""

_Stamp = tuple[int, int]  # (mtime_ns, size)

TRUST_AFTER_NS = 2_000_000_000
"""How old an mtime must be before an unchanged one proves that nothing changed."""


def read_layer(path: str, *, cascade: bool, source: str | None = None) -> Layer:
    """Read and validate a profile (``cascade=False``) or cascade file.

    Raises:
        ProfileError: ``profile FILE line N: ...``.
    """
    label = source or path
    try:
        with open(path, encoding="utf-8") as handle:  # noqa: PTH123  # str paths, hot path
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ProfileError(f"profile {label}: cannot read: {reason}") from exc
    return parse_text(text, label, cascade=cascade)


def parse_text(text: str, label: str, *, cascade: bool) -> Layer:
    """Validate profile text; ``label`` names it in messages and origins."""
    try:
        return parse_layer(compose(text), label, cascade=cascade)
    except YamlProblem as exc:
        raise ProfileError(f"profile {label} line {exc.line}: {exc.message}") from None


@dataclass(slots=True)
class _Entry:
    """A cached file or directory check: when it was made and what it found."""

    checked: float
    stamp: _Stamp | None
    layer: Layer | None = None
    error: ProfileError | None = None
    companions: frozenset[str] = frozenset()
    cascade_stamp: _Stamp | None = None
    settled: bool = False  # every stamp above is old enough to trust; see TRUST_AFTER_NS

    def result(self) -> Layer | None:
        if self.error is not None:
            raise self.error
        return self.layer


def _join(directory: str, name: str) -> str:
    # Plain strings, not Path objects: this runs for every directory of a 100k-file scan.
    return directory + name if directory.endswith(os.sep) else directory + os.sep + name


def _stamp(path: str) -> _Stamp | None:
    try:
        st = os.stat(path)  # noqa: PTH116  # str paths, hot path
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _settled(stamp: _Stamp | None) -> bool:
    return stamp is not None and time.time_ns() - stamp[0] > TRUST_AFTER_NS


def _parse(path: str) -> tuple[Layer | None, ProfileError | None]:
    try:
        return read_layer(path, cascade=True), None
    except ProfileError as exc:
        return None, exc


class CascadeCache:
    """Parsed cascade files by directory, re-checked at most once per ``cache_seconds``.

    Attributes:
        generation: grows whenever a cascade file is (re)parsed; callers caching merges of
            layers drop them when it changes.
    """

    def __init__(self, cache_seconds: float) -> None:
        self.cache_seconds = cache_seconds
        self.generation = 0
        self._dirs: dict[str, _Entry] = {}
        self._companions: dict[str, _Entry] = {}
        self._chains: dict[tuple[str, str], tuple[float, tuple[Layer, ...]]] = {}

    def chain(self, directory: str, root: str, now: float, fresh: bool) -> tuple[Layer, ...]:
        """The cascade layers from ``root`` down to ``directory`` (which must be below it).

        Raises:
            ProfileError: a cascade file in the chain is invalid.
        """
        key = (directory, root)
        cached = self._chains.get(key)
        if cached is not None and not fresh and now - cached[0] <= self.cache_seconds:
            return cached[1]
        dirs = [directory]
        while len(dirs[-1]) > len(root):
            dirs.append(dirs[-1].rpartition(os.sep)[0] or os.sep)
        dirs.reverse()
        layers = []
        for path in dirs:
            layer = self._directory(path, now, fresh).result()
            if layer is not None:
                layers.append(layer)
        chain = tuple(layers)
        self._chains[key] = (now, chain)
        return chain

    def companion(self, directory: str, name: str, now: float, fresh: bool) -> Layer | None:
        """The companion layer of file ``name`` in ``directory`` (after :meth:`chain`), if any.

        Raises:
            ProfileError: the companion file is invalid.
        """
        listing = self._directory(directory, now, fresh)
        filename = name + COMPANION_SUFFIX
        if filename not in listing.companions:
            return None
        path = _join(directory, filename)
        entry = self._companions.get(path)
        if entry is not None and not fresh and now - entry.checked <= self.cache_seconds:
            return entry.result()
        stamp = _stamp(path)
        if entry is None or not entry.settled or entry.stamp != stamp:
            layer, error = _parse(path) if stamp is not None else (None, None)
            entry = _Entry(checked=now, stamp=stamp, layer=layer, error=error)
            entry.settled = _settled(stamp)
            self._companions[path] = entry
            self.generation += 1
        entry.checked = now
        return entry.result()

    def _directory(self, path: str, now: float, fresh: bool) -> _Entry:
        entry = self._dirs.get(path)
        if entry is not None and not fresh and now - entry.checked <= self.cache_seconds:
            return entry
        stamp = _stamp(path)
        if (
            entry is None
            or not entry.settled
            or stamp is None
            or entry.stamp is None
            or entry.stamp[0] != stamp[0]
        ):
            entry = self._list(path, stamp, now)
        elif entry.cascade_stamp is not None:
            cascade = _join(path, CASCADE_FILE)
            cascade_stamp = _stamp(cascade)
            if cascade_stamp != entry.cascade_stamp:
                entry.layer, entry.error = _parse(cascade) if cascade_stamp else (None, None)
                entry.cascade_stamp = cascade_stamp
                entry.settled = _settled(cascade_stamp)
                self.generation += 1
        entry.checked = now
        self._dirs[path] = entry
        return entry

    def _list(self, path: str, stamp: _Stamp | None, now: float) -> _Entry:
        entry = _Entry(checked=now, stamp=stamp)
        if stamp is None:
            return entry
        names: list[str] = []
        try:
            with os.scandir(path) as listing:
                names = [e.name for e in listing if e.name.endswith(COMPANION_SUFFIX)]
        except OSError:
            return entry  # the scanner reports unreadable directories
        entry.companions = frozenset(n for n in names if not n.startswith("."))
        if CASCADE_FILE in names:
            cascade = _join(path, CASCADE_FILE)
            entry.cascade_stamp = _stamp(cascade)
            entry.layer, entry.error = _parse(cascade)
            self.generation += 1
        entry.settled = _settled(stamp) and (
            entry.cascade_stamp is None or _settled(entry.cascade_stamp)
        )
        return entry
