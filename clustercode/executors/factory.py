"""The executor the settings ask for."""

from __future__ import annotations

from clustercode.config import Settings
from clustercode.executors.base import Executor

__all__ = ["make_executor"]


def make_executor(settings: Settings) -> Executor:
    """The executor the settings ask for."""
    if settings.executor == "argo":
        from clustercode.executors.argo import ArgoExecutor

        return ArgoExecutor(settings.argo)
    from clustercode.executors.local import LocalExecutor

    return LocalExecutor(max_parallel=settings.parallel, scratch_dir=settings.work_dir)
