"""Where a scan's decisions go: counted and kept in the report, passed to the caller."""

from __future__ import annotations

from collections.abc import Callable

from clustercode.jobs.views import ScanReport
from clustercode.models import Decision, DecisionKind, Job

__all__ = ["DecisionSink"]


class DecisionSink:
    """Where a scan's decisions go: the report, and the caller's callbacks.

    Args:
        report: counts every decision and keeps the first ones.
        on_decision: called with each decision (not with done files when ``quiet_done``).
        quiet_done: done files are only counted once the report keeps no more decisions; no
            decision object is made for them (a library of a million done files would otherwise
            make a million).
        on_queued: called with each job created.
    """

    __slots__ = ("_on_decision", "_on_queued", "_quiet_done", "_report")

    def __init__(
        self,
        report: ScanReport,
        on_decision: Callable[[Decision], None] | None,
        quiet_done: bool,
        on_queued: Callable[[Job], None] | None,
    ) -> None:
        self._report = report
        self._on_decision = on_decision
        self._quiet_done = quiet_done
        self._on_queued = on_queued

    def add(self, decision: Decision) -> None:
        """A decision of any kind."""
        self._report.add(decision)
        if self._on_decision is not None:
            self._on_decision(decision)

    def done(self, path: str, profile: str, job_id: str) -> None:
        """A file done by ``job_id`` under ``profile``."""
        report = self._report
        if self._quiet_done and len(report.decisions) >= report.keep:
            report.counts[DecisionKind.DONE] += 1
            return
        decision = Decision(
            path=path,
            kind=DecisionKind.DONE,
            reason=f"done by job {job_id}",
            profile=profile,
            job_id=job_id,
        )
        report.add(decision)
        if self._on_decision is not None and not self._quiet_done:
            self._on_decision(decision)

    def queued(self, job: Job) -> None:
        """A job the scan created (its decision comes through :meth:`add`)."""
        self._report.queued += 1
        if self._on_queued is not None:
            self._on_queued(job)
