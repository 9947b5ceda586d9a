"""Self-reported progress for Argo (and the local executor, which reads the same file)."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.contract import PROGRESS_ENV
from pipelines.steps import _atomic


class ProgressReporter:
    """Writes ``done/total`` to ``$ARGO_PROGRESS_FILE`` when the variable is set."""

    def __init__(self, total: int, path: str | None = None) -> None:
        """Report against ``total``; ``path`` defaults to ``$ARGO_PROGRESS_FILE``."""
        chosen = path if path is not None else os.environ.get(PROGRESS_ENV)
        self._path = Path(chosen) if chosen else None
        self._total = total
        self._last: int | None = None

    def update(self, done: int) -> None:
        """Record ``done`` frames (capped at the total); unchanged values are not rewritten."""
        done = max(0, min(done, self._total))
        if self._path is None or done == self._last:
            return
        self._last = done
        _atomic.write_text(self._path, f"{done}/{self._total}")

    def finish(self) -> None:
        """Record completion."""
        self.update(self._total)
