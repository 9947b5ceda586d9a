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
        The resolved path and the root that holds it.

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
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    given = Path(raw)
    candidates = [given if given.is_absolute() else root / given for root in real_roots]
    lexically_inside = False
    for candidate, root in zip(candidates, real_roots, strict=True):
        if not candidate.absolute().is_relative_to(root):
            continue
        lexically_inside = True
        real = Path(os.path.realpath(candidate))
        if not real.is_relative_to(root):
            # A symlink inside the library that leads out of it.
            raise PathOutsideLibraryError(field, f"{raw!r} leads outside the library roots")
        if real.is_file():
            return real, root
    if not lexically_inside:
        raise PathOutsideLibraryError(field, f"{raw!r} is not inside a library root")
    raise NotFoundError(f"no file {raw!r} in the library")
