"""``cleanup``: remove a job's work directory (the Workflow's exit handler)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from pipelines.steps.errors import StepError

logger = logging.getLogger(__name__)


def cleanup(*, work: Path) -> None:
    """Delete ``work`` and everything in it; a missing directory is already clean.

    Raises:
        StepError: ``work`` is not a directory, or a file in it cannot be removed.
    """
    if not work.exists():
        logger.info("%s: already gone", work)
        return
    if not work.is_dir() or work.is_symlink():
        raise StepError(f"work path {work} is not a directory; refusing to remove it")
    try:
        shutil.rmtree(work)
    except OSError as exc:
        raise StepError(f"cannot remove work directory {work}: {exc.strerror or exc}") from exc
    logger.info("%s: removed", work)
