"""Executors: run a transcode Workflow manifest on Argo or on this machine."""

from __future__ import annotations

from clustercode.executors.base import (
    ExecEvent,
    Executor,
    NodeEvent,
    Phase,
    RunEvent,
    RunInfo,
)
from clustercode.executors.factory import make_executor

__all__ = ["ExecEvent", "Executor", "NodeEvent", "Phase", "RunEvent", "RunInfo", "make_executor"]
