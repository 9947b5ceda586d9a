"""Which file a job transcodes: size, modification time, inode and a content fingerprint.

A source can be replaced under the same name at any moment (a download finishing, a user
re-ripping a disc). Work made from one version must never be joined with work made from
another, so the plan records the identity the slices were made from and every later step checks
it; ``merge`` checks the whole identity, fingerprint included, right before it publishes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["NAME_MAX", "SOURCE_CHANGED", "SourceIdentity", "fit_name", "source_identity"]

SOURCE_CHANGED = "source changed during the job"
"""How a step's message starts when it found the source replaced; the control plane queues
such a job again without counting an attempt."""

NAME_MAX = 255
"""Longest file name (bytes) on Linux file systems."""

_WHOLE_LIMIT = 16 * 1024 * 1024
_SAMPLES = 64
_SAMPLE_SIZE = 128 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceIdentity:
    """One version of a file.

    Attributes:
        size: bytes.
        mtime_ns: modification time.
        ino: inode number (a file replaced by rename gets a new one).
        fingerprint: ``blake2b`` of the whole file up to 16 MiB, else of 64 evenly spread
            128 KiB blocks and the last block, with the size.
    """

    size: int
    mtime_ns: int
    ino: int
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SourceIdentity:
        """Parse :meth:`to_dict`'s mapping.

        Raises:
            KeyError, TypeError, ValueError: not an identity.
        """
        return cls(
            size=int(raw["size"]),
            mtime_ns=int(raw["mtime_ns"]),
            ino=int(raw["ino"]),
            fingerprint=str(raw["fingerprint"]),
        )

    def same_stat(self, stat: os.stat_result) -> bool:
        """Whether ``stat`` still describes this version (no content read)."""
        return (stat.st_size, stat.st_mtime_ns, stat.st_ino) == (self.size, self.mtime_ns, self.ino)

    def differences(self, other: SourceIdentity) -> list[str]:
        """What differs between two identities, for a message ("size 10 -> 12")."""
        return [
            f"{name} {getattr(self, name)} -> {getattr(other, name)}"
            for name in ("size", "mtime_ns", "ino", "fingerprint")
            if getattr(self, name) != getattr(other, name)
        ]


def _fingerprint(handle: Any, size: int) -> str:
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    if size <= _WHOLE_LIMIT:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
        return digest.hexdigest()
    step = (size - _SAMPLE_SIZE) // _SAMPLES
    for k in range(_SAMPLES):
        handle.seek(k * step)
        digest.update(handle.read(_SAMPLE_SIZE))
    handle.seek(size - _SAMPLE_SIZE)
    digest.update(handle.read(_SAMPLE_SIZE))
    return digest.hexdigest()


def source_identity(path: Path) -> SourceIdentity:
    """Read the identity of ``path`` now.

    The file is stat'ed before and after it is read: a file that changes while it is read is
    read again (three times at most), so the fingerprint belongs to the stat it is stored with.

    Raises:
        OSError: the file cannot be read, or keeps changing.
    """
    for _ in range(3):
        with path.open("rb") as handle:
            before = os.fstat(handle.fileno())
            fingerprint = _fingerprint(handle, before.st_size)
        after = path.stat()
        if (before.st_size, before.st_mtime_ns, before.st_ino) == (
            after.st_size,
            after.st_mtime_ns,
            after.st_ino,
        ):
            return SourceIdentity(
                size=after.st_size,
                mtime_ns=after.st_mtime_ns,
                ino=after.st_ino,
                fingerprint=fingerprint,
            )
    raise OSError(f"{path} keeps changing while it is read")


def fit_name(name: str, *, keep_suffix: str = "") -> str:
    """``name`` if it fits in :data:`NAME_MAX` bytes, else a short name derived from its hash.

    Args:
        name: the wanted file name (one path component).
        keep_suffix: an ending the short name keeps (e.g. ``".mkv"`` for ffmpeg's muxer choice).
    """
    if len(name.encode("utf-8", "surrogateescape")) <= NAME_MAX:
        return name
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=12).hexdigest()
    prefix = "." if name.startswith(".") else ""
    return f"{prefix}{digest}{keep_suffix}"
