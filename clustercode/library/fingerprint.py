"""Content fingerprints: the key history uses to recognise a file whatever its name.

A fingerprint is ``"<size>:<hash>"``. The hash is BLAKE2b (20-byte digest) over the size and
:data:`SAMPLES` blocks of :data:`BLOCK` bytes: the first block, the last block and evenly spaced
blocks between them. A file no larger than all the samples together is hashed whole.

So fingerprinting reads at most 1 MiB whatever the file's size (a 50 GB remux costs as much as a
50 MB clip), the name and timestamps play no part (renaming or moving a file keeps its
fingerprint), and any change of size, or of bytes inside a sampled block, gives a new one. Media
edits almost always change the size or the container headers at the start and end; an in-place
edit of only unsampled bytes of equal length is the blind spot, and that is the price of not
reading the file. The sampling is part of the key: changing :data:`BLOCK`, :data:`SAMPLES` or
the hash changes every fingerprint, so they carry a version in the hash's personalisation.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from clustercode.library.mediainfo import MediaError

__all__ = ["BLOCK", "SAMPLES", "fingerprint", "sample_offsets"]

BLOCK = 64 * 1024
"""Bytes read per sample."""

SAMPLES = 16
"""Blocks sampled: the first, the last and the rest evenly spaced between."""

_PERSON = b"clustercode-fp1"  # version of the scheme; see the module docstring


def sample_offsets(size: int) -> list[int]:
    """Return the offsets of the blocks hashed for a file of ``size`` bytes.

    A file of at most ``BLOCK * SAMPLES`` bytes is read whole (one offset, 0, with the read
    running to the end).
    """
    if size <= BLOCK * SAMPLES:
        return [0]
    last = size - BLOCK
    return [last * i // (SAMPLES - 1) for i in range(SAMPLES)]


def fingerprint(path: Path, size: int | None = None) -> str:
    """Return the content fingerprint of a file.

    Args:
        path: the file.
        size: the size the caller saw when it found the file (e.g. from the scan). If the file
            no longer has that size it is still being written and fingerprinting it would be
            pointless.

    Returns:
        ``"<size>:<40 hex digits>"``.

    Raises:
        MediaError: the file cannot be read, or its size is no longer ``size``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        actual = os.fstat(fd).st_size
        if size is not None and actual != size:
            raise MediaError(f"{path}: changed while being scanned ({size} -> {actual} bytes)")
        digest = hashlib.blake2b(digest_size=20, person=_PERSON)
        digest.update(actual.to_bytes(8, "little"))
        whole = actual <= BLOCK * SAMPLES
        for offset in sample_offsets(actual):
            length = actual if whole else BLOCK
            data = os.pread(fd, length, offset)
            if len(data) != length:
                raise MediaError(f"{path}: changed while being scanned (short read)")
            digest.update(data)
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    return f"{actual}:{digest.hexdigest()}"
