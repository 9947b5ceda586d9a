"""The service's activity log: one INFO line per job state change and per scan.

State changes are read from the event stream (every change is announced there, in the same
transaction that makes it), so they are logged in one place, whoever made the change: the
scheduler, an RPC, or ``clustercode history`` in another process. Each line carries the job id,
the file and the reason, also as ``extra`` fields for the JSON log format. Nothing secret is in
a job record, so nothing secret reaches the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from clustercode.errors import ClustercodeError
from clustercode.jobs.views import ScanReport
from clustercode.models import DecisionKind, Job, JobEvent, JobState
from clustercode.store.history import History

__all__ = ["EventHandler", "follow_events", "log_event", "log_scan", "state_reason"]

log = logging.getLogger(__name__)

EventHandler = Callable[[JobEvent], None]

_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)


def _size(size: int) -> str:
    value, unit = float(size), "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def state_reason(job: Job, previous: str | None) -> str:
    """Why ``job`` is now in its state, in words, given the state it came from (None: created)."""
    state = job.state
    if previous is None:
        return f"new file, profile {job.profile}" + (
            f", published at {job.output}" if state is JobState.SUCCEEDED else ""
        )
    if state is JobState.RUNNING:
        return f"attempt {job.attempts} started"
    if state is JobState.SUCCEEDED:
        saved = job.size_before - job.size_after
        share = f", {saved / job.size_before:.0%} saved" if job.size_before else ""
        return (
            f"published {job.output} ({_size(job.size_before)} -> {_size(job.size_after)}{share})"
        )
    if state is JobState.QUEUED:
        if previous == JobState.RUNNING:
            return job.error or "requeued: the service stopped while it ran"
        return "retry after a failure" if previous == JobState.FAILED else "retried on request"
    if state is JobState.FAILED:
        return f"{job.error or 'failed'}; it is retried with backoff"
    if state is JobState.PARKED:
        return f"{job.error or 'failed'}; parked after {job.attempts} attempt(s), retry by hand"
    return job.error or "cancelled on request"


def log_event(event: JobEvent) -> None:
    """Log a job's state change or deletion at INFO; other events (progress) are not logged."""
    job = event.job
    fields: dict[str, Any] = {"job_id": job.id, "file": job.source, "state": job.state.value}
    if event.kind == "deleted":
        reason = "history entry deleted; the next scan transcodes the file again"
        fields |= {"state": "deleted", "reason": reason}
        log.info("job %s deleted: %s: %s", job.id, job.source, reason, extra=fields)
        return
    if event.kind != "state":
        return
    previous = event.extra.get("from")
    reason = state_reason(job, previous)
    fields |= {"from_state": previous or "", "reason": reason}
    log.info(
        "job %s %s -> %s: %s: %s",
        job.id,
        previous or "new",
        job.state.value,
        job.source,
        reason,
        extra=fields,
    )


def log_scan(report: ScanReport) -> None:
    """Log one line with a scan's counts: files seen, decisions by kind, files left for later."""
    stats = report.stats
    counts = report.counts
    decided = ", ".join(f"{counts[k]} {k.value}" for k in DecisionKind if counts[k])
    settling = stats.skipped.get("settling", 0)
    log.info(
        "scan: %d media file(s) in %.1f s: %s%s%s",
        stats.files,
        stats.seconds,
        decided or "nothing to decide",
        f"; {settling} still changing (left for a later scan)" if settling else "",
        f"; {stats.errors} director(ies) unreadable" if stats.errors else "",
        extra={
            "files": stats.files,
            "seconds": round(stats.seconds, 3),
            "decisions": {k.value: n for k, n in counts.items()},
            "settling": settling,
            "errors": stats.errors,
        },
    )


async def follow_events(
    history: History, handlers: Sequence[EventHandler], *, after: str = "$"
) -> None:
    """Feed every event after ``after`` to ``handlers`` until cancelled; survive Redis outages.

    A handler that raises is logged and does not stop the others. After an outage the stream
    is read on from the last event seen, so nothing still retained is missed.
    """
    failures = 0
    while True:
        try:
            async for event in history.follow(after, block_ms=1000):
                failures = 0
                after = event.id
                for handler in handlers:
                    try:
                        handler(event)
                    except Exception:
                        log.exception("event handler %r failed on event %s", handler, event.id)
        except ClustercodeError as exc:
            delay = _RETRY_SECONDS[min(failures, len(_RETRY_SECONDS) - 1)]
            failures += 1
            log.warning("cannot read the event stream: %s; retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
