"""Jobs: the controller facade the CLI and the server call, scan decisions, the scheduler, the
runner that follows one job through an executor, reconciliation at start, and the factory that
turns a job into its Workflow manifest.

May import every layer below it: profiles, executors, store, library, config.
"""

from __future__ import annotations

from clustercode.jobs.controller import Controller
from clustercode.jobs.decide import Decider
from clustercode.jobs.views import Explanation, ProfileSummary, ScanReport, Status

__all__ = [
    "Controller",
    "Decider",
    "Explanation",
    "ProfileSummary",
    "ScanReport",
    "Status",
]
