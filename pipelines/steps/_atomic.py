"""Write files so that a reader sees the old content or the new, never a partial one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pipelines.identity import fit_name


def temp_path(final: Path, *, tag: str = "tmp") -> Path:
    """A temporary name beside ``final`` (same directory, so :func:`os.replace` is atomic).

    The name keeps ``final``'s extension because ffmpeg picks muxers by extension, and carries
    the process id so that two attempts at the same file never write into each other. A name
    that would not fit in ``NAME_MAX`` bytes is shortened to a hash of itself.
    """
    suffix = final.suffix if len(final.suffix.encode("utf-8", "surrogateescape")) <= 16 else ""
    ending = f".{tag}-{os.getpid()}{suffix}"
    return final.with_name(fit_name(f".{final.stem}{ending}", keep_suffix=ending))


def write_text(final: Path, text: str) -> None:
    """Write ``text`` to ``final`` atomically (temp file in the same directory, then rename)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path(final)
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(final)
    finally:
        remove_quietly(temp)


def remove_quietly(path: Path) -> None:
    """Delete a file if it exists."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
