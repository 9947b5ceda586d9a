"""Jobs for History tests: one per numbered source, each with its own fingerprint."""

from __future__ import annotations

from clustercode.models import Job


def make_job(n: int, **fields: object) -> Job:
    """A job for source number ``n`` (its own content fingerprint, one profile)."""
    values: dict[str, object] = {
        "id": "",
        "source": f"/library/film-{n}.mkv",
        "fingerprint": f"fp{n:06d}",
        "profile": "hevc",
        "profile_hash": "ph1",
        "output": f"/out/film-{n}.mkv",
    }
    values.update(fields)
    return Job(**values)  # type: ignore[arg-type]
