"""The transcode pipeline: a hera Workflow builder and the step programs its containers run.

This package imports nothing from ``clustercode`` or ``tui``: it is what runs inside the
Workflow's pods, and the same manifest runs on Argo or on the local executor.
"""

from __future__ import annotations

from pipelines.settings import EncodeSettings, StreamKeep

__all__ = ["EncodeSettings", "StreamKeep"]
