"""``cleanup``: tidy a job's work directory (the Workflow's exit handler).

After a successful run nothing stays, or (``--keep-result``, the local executor) only
``result.json``: the proof, until the control plane has recorded the job, that the output was
published and verified. After a failed or stopped run the
plan and the proven slices stay so that the next attempt of the job encodes only what is
missing; everything else (joined video, concat list, covers, temporary files) goes. The control
plane removes the directory once the job has ended for good.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipelines.steps.errors import StepError

logger = logging.getLogger(__name__)

SUCCEEDED = "Succeeded"
"""``{{workflow.status}}`` of a run that succeeded."""

_KEEP_AFTER_SUCCESS = frozenset({"result.json"})
_KEEP_AFTER_FAILURE = frozenset({"plan.json", "slices", "result.json"})


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _temporary(path: Path) -> bool:
    return path.name.startswith(".")


def cleanup(*, work: Path, status: str | None = None, keep_result: bool = False) -> None:
    """Tidy ``work``; a missing directory is already clean.

    Args:
        work: the job's work directory.
        status: the run's ``{{workflow.status}}``; ``None`` removes the whole directory.
        keep_result: after a success keep ``result.json``.

    Raises:
        StepError: ``work`` is not a directory, or a file in it cannot be removed.
    """
    if not work.exists():
        logger.info("%s: already gone", work)
        return
    if not work.is_dir() or work.is_symlink():
        raise StepError(f"work path {work} is not a directory; refusing to remove it")
    try:
        if status is None or (status == SUCCEEDED and not keep_result):
            shutil.rmtree(work)
            logger.info("%s: removed", work)
            return
        keep = _KEEP_AFTER_SUCCESS if status == SUCCEEDED else _KEEP_AFTER_FAILURE
        for path in work.iterdir():
            if path.name not in keep or _temporary(path):
                _remove(path)
        slices = work / "slices"
        if slices.is_dir():
            for path in slices.iterdir():
                if _temporary(path):
                    _remove(path)
    except OSError as exc:
        raise StepError(f"cannot clean work directory {work}: {exc.strerror or exc}") from exc
    logger.info("%s: cleaned after a run that ended %s", work, status)
