"""What ``clustercode run`` tells the user about a scan: what it will do, and what it will not do
and why (files still changing, skipped by a rule, already done and where, parked)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from clustercode.config.settings import Settings
from clustercode.jobs.views import ScanReport
from clustercode.models import DecisionKind, JobState
from clustercode.store.history import History

__all__ = ["describe_done", "outcome_line", "scan_lines", "settling", "settling_hint"]

_DONE_SAMPLE = 200
"""Done files whose records are read to say where their outputs are (a sample is enough)."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def settling(report: ScanReport) -> int:
    """Files the scan left out because they changed within the settle time."""
    return report.stats.skipped.get("settling", 0)


def settling_hint(report: ScanReport, settings: Settings) -> str:
    """One line about files still changing, or "" when there are none."""
    count = settling(report)
    if not count:
        return ""
    wait = max(1, math.ceil(settings.settle_seconds))
    return (
        f"  still changing: {_plural(count, 'file')} modified in the last {wait} s "
        f"{'was' if count == 1 else 'were'} left out: run again in {wait} s, "
        "or use --wait-settle to wait for them"
    )


def scan_lines(report: ScanReport, *, verbose: bool) -> list[str]:
    """The scan's summary line, then one line per file not transcoded for a reason."""
    stats = report.stats
    counts = report.counts
    found = ", ".join(f"{counts[k]} {k.value}" for k in DecisionKind if counts[k])
    lines = [
        f"scanned {_plural(stats.files, 'file')} in {stats.seconds:.1f} s: "
        + (found or "no media files ready")
    ]
    shown = (DecisionKind.SKIPPED, DecisionKind.PARKED)
    for decision in report.decisions:
        if decision.kind in shown or (verbose and decision.kind is not DecisionKind.DONE):
            lines.append(f"  {decision.kind.value}: {decision.path}: {decision.reason}")
    if stats.errors:
        lines.append(f"  unreadable: {_plural(stats.errors, 'directory')} could not be listed")
        lines += [f"    {path}" for path in stats.error_paths[:10]]
    return lines


async def describe_done(
    history: History, report: ScanReport, settings: Settings, *, verbose: bool
) -> list[str]:
    """Lines about files done before: where their outputs are, above all when that is not
    under this run's output root (a history kept from a run with another output root)."""
    done = [d for d in report.decisions if d.kind is DecisionKind.DONE and d.job_id]
    if not done:
        return []
    jobs = {job.id: job for job in await history.get_jobs([d.job_id for d in done[:_DONE_SAMPLE]])}
    if verbose:
        return [
            f"  done: {d.path} -> {jobs[d.job_id].output} (job {d.job_id})"
            for d in done
            if d.job_id in jobs
        ]
    root = settings.output
    elsewhere = [
        job.output
        for job in jobs.values()
        if root is not None and not Path(job.output).is_relative_to(root)
    ]
    if elsewhere:
        return [
            f"  done: {_plural(len(done), 'file')} already done earlier; "
            f"{'some' if len(elsewhere) < len(jobs) else 'their'} outputs are not under {root} "
            f"but e.g. at {elsewhere[0]} (-v lists them; `clustercode history delete PATH` "
            "redoes a file)"
        ]
    where = f"under {root}" if root is not None else "beside their sources"
    return [f"  done: {_plural(len(done), 'file')} already done, outputs {where}"]


def outcome_line(finals: Counter[JobState], report: ScanReport) -> str:
    """The closing line: what this run did, and what is parked or still changing."""
    parts = [f"{n} {state.value}" for state, n in finals.items() if n]
    parked_before = report.counts[DecisionKind.PARKED]
    if parked_before:
        parts.append(f"{parked_before} parked earlier (clustercode history retry --state parked)")
    left = settling(report)
    if left:
        parts.append(f"{left} still changing (run again)")
    return "done: " + (", ".join(parts) or "nothing to transcode")
