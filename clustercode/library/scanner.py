"""Walk library roots and yield the media files that are ready to be looked at.

The walk is iterative (an explicit stack, so depth costs no Python recursion) over
:func:`os.scandir`, which gives each entry's type from the directory listing itself: only media
files cost a ``stat`` call, for their size and modification time. What it leaves out, and counts
in :class:`ScanStats` by reason:

- hidden files and directories (a leading ``.``), which also covers ``.clustercode.yaml``;
- partial downloads and temporary files (``*.part``, ``*.partial``, ``*.tmp``,
  ``*.clustercode-tmp``, ``*.crdownload``, ``*.!qb``, ``*~``);
- files whose extension is not a media extension;
- files still being written: modified less than ``settle_seconds`` ago;
- the excluded directories (output root, work and state directories), recognised by device and
  inode, so no path spelling or symlink leads into them;
- a directory already visited (symlink loops, or roots that overlap), also by device and inode;
- broken symlinks, and files that vanish between listing and ``stat``;
- symlinks (to files or directories) whose target is outside every library root, unless
  ``follow_links_out`` (counted as ``link_out``);
- names that are not valid UTF-8 (counted as ``undecodable``, one warning each): paths travel as
  text through Redis, the API and the Workflow manifest.

A directory that cannot be listed (permissions, removed during the walk, I/O error) is logged,
counted in ``errors`` and skipped; the walk goes on.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PARTIAL_SUFFIXES", "ScanEntry", "ScanStats", "scan"]

log = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".clustercode-tmp", ".crdownload", ".!qb", "~")
"""Name endings (compared in lower case) of files that are still being downloaded or written."""

_MAX_ERROR_PATHS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanEntry:
    """One media file found by a scan.

    Attributes:
        path: the file's path as reached from its root (symlinks not resolved).
        root: the library root it was found under, as given to :func:`scan`.
        size: size in bytes.
        mtime_ns: modification time in nanoseconds.
        inode: inode number (of the target, for a symlink).
        device: device number (of the target, for a symlink).
    """

    path: Path
    root: Path
    size: int
    mtime_ns: int
    inode: int
    device: int


@dataclass(slots=True)
class ScanStats:
    """Counts from one scan; filled in while the scan runs.

    Attributes:
        files: media files yielded.
        dirs: directories listed.
        skipped: entries left out, by reason (``hidden``, ``partial``, ``extension``,
            ``settling``, ``excluded``, ``visited``, ``broken_link``, ``vanished``, ``special``).
        errors: directories (or roots) that could not be listed.
        error_paths: the first of those paths, with the reason.
        seconds: wall time of the scan once it has finished.
        directory: the directory being listed (for progress displays).
    """

    files: int = 0
    dirs: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    error_paths: list[str] = field(default_factory=list)
    seconds: float = 0.0
    directory: str = ""


def _record_error(stats: ScanStats, path: str, exc: OSError) -> None:
    stats.errors += 1
    reason = exc.strerror or type(exc).__name__
    log.warning("cannot list %s: %s; skipping it", path, reason)
    if len(stats.error_paths) < _MAX_ERROR_PATHS:
        stats.error_paths.append(f"{path}: {reason}")


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


if sys.version_info < (3, 12):
    # Python 3.11's Path(str) parses the whole string (several microseconds a file, a tenth of a
    # million-file scan); deriving each file's path from its directory's skips the parsing.
    # Python 3.12 parses paths lazily, so Path(str) is cheap there.
    def _child_path(directory: Path, name: str, full: str) -> Path:
        return directory._make_child_relpath(name)  # type: ignore[attr-defined,no-any-return]

else:

    def _child_path(directory: Path, name: str, full: str) -> Path:
        return Path(full)


def _dir_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # noqa: PTH116  # str paths: no Path object per directory
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _decodable(name: str, path: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        log.warning("skipping %s: the name is not valid UTF-8; rename it", shown)
        return False
    return True


def _leads_out(entry: os.DirEntry[str], real_roots: Sequence[str]) -> bool:
    real = os.path.realpath(entry.path)
    for root in real_roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return False
    log.warning("skipping %s: a symlink to %s, outside the library roots", entry.path, real)
    return True


def scan(
    roots: Sequence[Path],
    *,
    exclude: Sequence[Path] = (),
    extensions: Collection[str],
    settle_seconds: float,
    now: float | None = None,
    stats: ScanStats | None = None,
    follow_links_out: bool = False,
) -> Iterator[ScanEntry]:
    """Yield the media files under ``roots`` that are ready to be processed.

    Args:
        roots: library roots, walked in order; overlapping roots yield each file once.
        exclude: directories never entered (output root, work dir, state dir); those that do
            not exist are ignored.
        extensions: media extensions, without the dot, in lower case.
        settle_seconds: a file modified less than this long before ``now`` is still being
            written and is left out (counted as ``settling``); so is one dated in the future by
            less than this, which a clock skew between machines can cause.
        now: the time to compare modification times with (default: the current time).
        stats: counts are added to this object while the walk runs.
        follow_links_out: follow symlinks whose targets are outside every root.

    Yields:
        One :class:`ScanEntry` per media file, directory by directory, each directory's
        entries in name order.
    """
    stats = stats if stats is not None else ScanStats()
    started = time.monotonic()
    now_ns = int((time.time() if now is None else now) * 1e9)
    settle_ns = int(settle_seconds * 1e9)
    media = frozenset(e.lower().lstrip(".") for e in extensions)
    excluded = {key for key in map(_dir_key, map(os.fspath, exclude)) if key is not None}
    visited: set[tuple[int, int]] = set()
    skipped = stats.skipped
    real_roots = [os.path.realpath(root) for root in roots]

    for root in roots:
        root_text = os.fspath(root)
        key = _dir_key(root_text)
        if key is None:
            _record_error(
                stats, root_text, FileNotFoundError(2, "not a directory or does not exist")
            )
            continue
        if key in excluded or key in visited:
            skipped["excluded" if key in excluded else "visited"] += 1
            continue
        visited.add(key)
        stack = [root_text]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as listing:
                    children = sorted(listing, key=_name)
            except OSError as exc:
                _record_error(stats, directory, exc)
                continue
            stats.dirs += 1
            stats.directory = directory
            directory_path = Path(directory)
            subdirs: list[str] = []
            for entry in children:
                name = entry.name
                if name.startswith("."):
                    skipped["hidden"] += 1
                    continue
                if not _decodable(name, entry.path):
                    skipped["undecodable"] += 1
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                links_out = not follow_links_out and entry.is_symlink()
                if is_dir:
                    if links_out and _leads_out(entry, real_roots):
                        skipped["link_out"] += 1
                        continue
                    key = _dir_key(entry.path)
                    if key is None:
                        skipped["vanished"] += 1
                    elif key in excluded:
                        skipped["excluded"] += 1
                    elif key in visited:
                        skipped["visited"] += 1
                    else:
                        visited.add(key)
                        subdirs.append(entry.path)
                    continue
                lower = name.lower()
                if lower.endswith(PARTIAL_SUFFIXES):
                    skipped["partial"] += 1
                    continue
                if lower.rpartition(".")[2] not in media or "." not in lower:
                    skipped["extension"] += 1
                    continue
                if links_out and _leads_out(entry, real_roots):
                    skipped["link_out"] += 1
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    skipped["broken_link" if entry.is_symlink() else "vanished"] += 1
                    continue
                except OSError:
                    # ELOOP from a symlink pointing at itself, EACCES on the target, ...
                    skipped["broken_link"] += 1
                    continue
                if not stat.S_ISREG(st.st_mode):
                    skipped["special"] += 1
                    continue
                if abs(now_ns - st.st_mtime_ns) < settle_ns:
                    skipped["settling"] += 1
                    continue
                stats.files += 1
                yield ScanEntry(
                    path=_child_path(directory_path, name, entry.path),
                    root=root,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    inode=st.st_ino,
                    device=st.st_dev,
                )
            # Reversed so that popping walks subdirectories in listing order.
            stack.extend(reversed(subdirs))
    stats.seconds = time.monotonic() - started
