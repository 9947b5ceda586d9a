"""What makes a finished slice reusable: a sidecar that ties its bytes to one plan.

``encode`` writes ``slice_k.json`` beside ``slice_k.mkv`` once the slice has passed its checks:
the plan's digest (which covers the source's identity, the encoder settings and the slice's
frames), the slice's size and SHA-256, and its codec setup. A later attempt of the job reuses
the slice only when the sidecar names the current plan and the bytes still hash the same;
``merge`` joins only slices whose sidecar names the current plan, and proves their bytes
packet by packet as it joins them (:mod:`pipelines.steps._packets`). A slice from another
version of the source, another plan or a half-finished write is therefore never joined into an
output.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.steps import _atomic
from pipelines.steps._plan import Plan, SlicePlan, slice_path
from pipelines.steps._starts import START_NAMES

__all__ = [
    "SliceProof",
    "clear_work",
    "proof_path",
    "recorded_proof",
    "slice_is_proven",
    "write_proof",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceProof:
    """The sidecar of one finished slice.

    Attributes:
        index: the slice number.
        frames: its frame count.
        plan: the digest of the plan it was made under.
        size: the slice file's size in bytes.
        sha256: the slice file's SHA-256.
        checks: the names of the checks it passed (e.g. ``frames``, ``packets``).
        codec: the video codec's name, as ffmpeg names it (``h264``).
        extradata: size and MD5 of the codec's extradata: slices are joined only when all
            share it.
    """

    index: int
    frames: int
    plan: str
    size: int
    sha256: str
    checks: tuple[str, ...] = field(default=())
    codec: str = ""
    extradata: str = ""


def proof_path(work: Path, index: int) -> Path:
    """Where the sidecar of slice ``index`` lives."""
    return slice_path(work, index).with_suffix(".json")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_proof(
    work: Path,
    plan: Plan,
    piece: SlicePlan,
    checks: tuple[str, ...],
    *,
    codec: str = "",
    extradata: str = "",
) -> SliceProof:
    """Record that slice ``piece`` in ``work`` is finished and checked under ``plan``."""
    path = slice_path(work, piece.index)
    proof = SliceProof(
        index=piece.index,
        frames=piece.frames,
        plan=plan.digest,
        size=path.stat().st_size,
        sha256=file_sha256(path),
        checks=checks,
        codec=codec,
        extradata=extradata,
    )
    _atomic.write_text(proof_path(work, piece.index), json.dumps(asdict(proof)) + "\n")
    return proof


def read_proof(work: Path, index: int) -> SliceProof | None:
    """The sidecar of slice ``index``, or ``None`` if absent or unreadable."""
    try:
        raw = json.loads(proof_path(work, index).read_text(encoding="utf-8"))
        raw["checks"] = tuple(raw.get("checks", ()))
        return SliceProof(**raw)
    except (OSError, ValueError, TypeError):
        return None


def recorded_proof(work: Path, plan: Plan, piece: SlicePlan) -> SliceProof | None:
    """The sidecar of slice ``piece`` if it names ``plan`` and the file has its size.

    No byte is read: for a caller that proves the content itself (``merge`` hashes every packet
    as it joins the slices).
    """
    proof = read_proof(work, piece.index)
    if proof is None or (proof.index, proof.frames, proof.plan) != (
        piece.index,
        piece.frames,
        plan.digest,
    ):
        return None
    if not proof.codec:
        return None  # written before sidecars named the codec setup: cannot be joined safely
    try:
        size = slice_path(work, piece.index).stat().st_size
    except OSError:
        return None
    return proof if size == proof.size else None


def slice_is_proven(work: Path, plan: Plan, piece: SlicePlan) -> bool:
    """Whether slice ``piece`` is in place, made under ``plan`` and unchanged since it was
    checked."""
    proof = recorded_proof(work, plan, piece)
    if proof is None:
        return False
    try:
        return file_sha256(slice_path(work, piece.index)) == proof.sha256
    except OSError:
        return False


# Files a plan makes in the work directory, besides the plan itself.
_DERIVED = ("video.mkv", "concat.txt", "result.json", "audio.mka", *START_NAMES.values())


def clear_work(work: Path) -> None:
    """Remove every slice, sidecar and joined file: they belong to another plan."""
    shutil.rmtree(work / "slices", ignore_errors=True)
    shutil.rmtree(work / "covers", ignore_errors=True)
    for name in _DERIVED:
        with contextlib.suppress(FileNotFoundError):
            (work / name).unlink()
