"""Writing small text files (profiles, cascade files) into a test tree."""

from __future__ import annotations

from pathlib import Path


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path``, making its parent directories first.

    Args:
        path: The file to write.
        text: Its whole content.

    Returns:
        ``path``, so that a call can be used inline.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
