"""Confine every path a request carries to the library roots."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from clustercode.errors import InvalidArgumentError, NotFoundError, PathOutsideLibraryError


def confine(raw: str, roots: Sequence[Path], *, field: str = "path") -> tuple[Path, Path]:
    """Resolve a user-supplied path to a real file inside one of the library roots.

    A relative path is taken relative to each root in turn; an absolute path must lie inside a
    root. ``..`` components are refused outright, and so is a path whose real location (symlinks
    resolved) leaves its root.

    Args:
        raw: the path as the user sent it.
        roots: the library roots.
        field: the request field, named in errors.

    Returns:
        The path below its root (as the scanner names it: symlinks inside the library are not
        resolved) and that root.

    Raises:
        InvalidArgumentError: empty path or ``..`` components.
        PathOutsideLibraryError: the path is outside every root.
        NotFoundError: inside a root, but no such file.
    """
    if not raw or not raw.strip():
        raise InvalidArgumentError(field, "must not be empty")
    if "\x00" in raw:
        raise InvalidArgumentError(field, "must not contain NUL bytes")
    if ".." in PurePosixPath(raw).parts:
        raise PathOutsideLibraryError(field, f"{raw!r} must not contain '..'")
    given = Path(raw)
    lexically_inside = False
    for configured in roots:
        root = Path(configured).absolute()
        real_root = Path(os.path.realpath(configured))
        if given.is_absolute():
            candidate = given.absolute()
            # Inside the root as configured, or as the real directory behind a linked root.
            if not (candidate.is_relative_to(root) or candidate.is_relative_to(real_root)):
                continue
        else:
            candidate = root / given
        lexically_inside = True
        real = Path(os.path.realpath(candidate))
        if not real.is_relative_to(real_root):
            # A symlink inside the library that leads out of it.
            raise PathOutsideLibraryError(field, f"{raw!r} leads outside the library roots")
        if real.is_file():
            if not candidate.is_relative_to(root):
                candidate = root / candidate.relative_to(real_root)
            # The path as the scanner reaches it from its root, so both name files alike.
            return candidate, root
    if not lexically_inside:
        raise PathOutsideLibraryError(field, f"{raw!r} is not inside a library root")
    raise NotFoundError(f"no file {raw!r} in the library")
