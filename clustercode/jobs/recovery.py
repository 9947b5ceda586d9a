"""What a crash leaves behind on disk, and what to do with it at the next start.

- A job whose run published its output before the control service could record it (Redis was
  away, the process was killed) is proven done by its work directory's ``result.json``: merge
  writes it before the rename and it names the output's inode, size and modification time. If
  the output on disk is that file and the source is still the version it was made from, the job
  succeeded; nothing is transcoded again.
- Work directories that no live job owns (the job ended, was deleted, or the directory is a run's
  scratch from a killed process) are removed.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from clustercode.models import Job

log = logging.getLogger(__name__)

__all__ = ["FREE_REQUEUES", "free_requeue", "published_result", "remove_work", "sweep_work"]

RESULT_NAME = "result.json"

FREE_REQUEUES = 10
"""Runs lost to crashes of the control service that do not count as attempts; a job that keeps
ending that way (say it crashes the machine) then uses attempts like any failure, and is parked."""


def free_requeue(job: Job) -> bool:
    """Whether a crash re-queue of ``job`` may leave its attempts as they were before the run."""
    return job.attempts > 0 and job.runs - job.attempts < FREE_REQUEUES


def published_result(work_dir: Path, job: Job) -> dict[str, Any] | None:
    """The result of ``job``'s published output if the files on disk prove it, else ``None``."""
    try:
        result = json.loads((work_dir / job.id / RESULT_NAME).read_text(encoding="utf-8"))
        output = Path(str(result["output"]))
        if str(output) != job.output:
            return None
        stat = output.stat()
        if (stat.st_ino, stat.st_size, stat.st_mtime_ns) != (
            int(result["output_ino"]),
            int(result["size_after"]),
            int(result["output_mtime_ns"]),
        ):
            return None
        source = result["source"]
        now = Path(job.source).stat()
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (
            int(source["size"]),
            int(source["mtime_ns"]),
            int(source["ino"]),
        ):
            return None
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return dict(result)


def remove_work(work_dir: Path, job_id: str) -> None:
    """Remove a job's work directory (the job has ended for good)."""
    if job_id and job_id.isalnum():
        shutil.rmtree(work_dir / job_id, ignore_errors=True)


def sweep_work(work_dir: Path, live: Collection[str]) -> list[str]:
    """Remove every entry of ``work_dir`` that is not the work directory of a ``live`` job id.

    Call it only when nothing runs yet: a run's scratch directories are removed too.

    Returns:
        The names removed.
    """
    removed: list[str] = []
    try:
        entries = list(work_dir.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name in live:
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as exc:
            log.warning("cannot remove %s: %s", entry, exc)
            continue
        removed.append(entry.name)
    if removed:
        log.info("removed %d work entries no live job owns", len(removed))
    return removed
