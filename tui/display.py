"""Text the widgets show: state names, progress, sizes, durations, the ETA, scan summaries.

Pure functions of protobuf messages, so they are easy to test and the widgets stay thin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from clustercode.api.v1 import jobs_pb2, library_pb2, service_pb2
from clustercode.errors import one_line

__all__ = [
    "FILTER_KEYS",
    "NO_VALUE",
    "PAUSE_REASON_SHOWN",
    "eta_seconds",
    "format_duration",
    "format_size",
    "job_progress",
    "percent",
    "scan_summary",
    "scheduler_pause",
    "slice_line",
    "slice_state_name",
    "state_name",
]

NO_VALUE = "-"

# Keys 0-6 of the jobs screen: 0 shows every state, 1-6 one state each.
FILTER_KEYS: Mapping[str, int] = {
    "0": jobs_pb2.JOB_STATE_UNSPECIFIED,
    "1": jobs_pb2.JOB_STATE_QUEUED,
    "2": jobs_pb2.JOB_STATE_RUNNING,
    "3": jobs_pb2.JOB_STATE_SUCCEEDED,
    "4": jobs_pb2.JOB_STATE_FAILED,
    "5": jobs_pb2.JOB_STATE_CANCELLED,
    "6": jobs_pb2.JOB_STATE_PARKED,
}


def state_name(state: int) -> str:
    """``JOB_STATE_RUNNING`` -> ``running``; UNSPECIFIED (the filter "every state") -> ``all``."""
    if state == jobs_pb2.JOB_STATE_UNSPECIFIED:
        return "all"
    try:
        return jobs_pb2.JobState.Name(state).removeprefix("JOB_STATE_").lower()
    except ValueError:
        return f"state {state}"


def slice_state_name(state: int) -> str:
    """``SLICE_STATE_RUNNING`` -> ``running``."""
    try:
        name = jobs_pb2.SliceState.Name(state).removeprefix("SLICE_STATE_")
    except ValueError:
        return f"state {state}"
    return "unknown" if name == "UNSPECIFIED" else name.lower()


def percent(done: int, total: int) -> str:
    """``done`` of ``total`` as a whole percentage, or ``-`` when the total is unknown."""
    if total <= 0:
        return NO_VALUE
    return f"{min(100, done * 100 // total)}%"


def job_progress(job: jobs_pb2.Job) -> str:
    """The progress column: frames percentage, 100% once the job succeeded, ``-`` while it
    is queued (a retried job starts over: its last attempt's frames do not count)."""
    if job.state == jobs_pb2.JOB_STATE_SUCCEEDED:
        return "100%"
    if job.state == jobs_pb2.JOB_STATE_QUEUED:
        return NO_VALUE
    return percent(job.frames_done, job.frames_total)


def format_size(size: int) -> str:
    """Bytes in binary units: ``1.5 GiB``; ``-`` for 0 (not known yet)."""
    if size <= 0:
        return NO_VALUE
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_duration(seconds: float | None) -> str:
    """``45s``, ``3m05s``, ``2h07m``; ``-`` for None."""
    if seconds is None:
        return NO_VALUE
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def eta_seconds(slices: Iterable[jobs_pb2.Slice]) -> float | None:
    """Seconds until every slice is encoded, at the speed the slices run now.

    Slices run in parallel, so the rate is the sum of the running slices' fps and the work is
    every frame not yet encoded, pending slices included. None when nothing runs (no rate).
    """
    remaining = 0
    rate = 0.0
    for piece in slices:
        remaining += max(0, piece.frames_total - piece.frames_done)
        if piece.state == jobs_pb2.SLICE_STATE_RUNNING and piece.fps > 0:
            rate += piece.fps
    if remaining == 0:
        return 0.0
    return remaining / rate if rate > 0 else None


def slice_line(piece: jobs_pb2.Slice) -> str:
    """``#3 running  1200/2400 frames  41.5 fps  try 2``, the label beside a slice's bar."""
    parts = [
        f"#{piece.index:<3d}",
        f"{slice_state_name(piece.state):<9}",
        f"{piece.frames_done}/{piece.frames_total} frames",
    ]
    if piece.state == jobs_pb2.SLICE_STATE_RUNNING and piece.fps > 0:
        parts.append(f"{piece.fps:.1f} fps")
    if piece.attempts > 1:
        parts.append(f"try {piece.attempts}")
    return "  ".join(parts)


_DECISION_ORDER: Sequence[int] = (
    library_pb2.DECISION_KIND_NEW,
    library_pb2.DECISION_KIND_QUEUED,
    library_pb2.DECISION_KIND_RUNNING,
    library_pb2.DECISION_KIND_DONE,
    library_pb2.DECISION_KIND_SKIPPED,
    library_pb2.DECISION_KIND_PARKED,
)


def scan_summary(response: service_pb2.ScanLibraryResponse) -> str:
    """``3 new, 10 done, 2 skipped``: the scan's counts, zero counts left out."""
    counts = {int(entry.kind): entry.count for entry in response.counts}
    parts = []
    for kind in _DECISION_ORDER:
        if counts.get(kind):
            name = library_pb2.DecisionKind.Name(kind).removeprefix("DECISION_KIND_").lower()
            parts.append(f"{counts[kind]} {name}")
    return ", ".join(parts) if parts else "0 files"


def scan_progress(progress: library_pb2.ScanProgress) -> str:
    """``scanning 120,000 files (41,000/s) in /library/shows/x`` while a scan runs, else
    ``scanned 1,000,000 files in 24 s``."""
    if progress.running:
        return (
            f"scanning {progress.files_seen:,} files ({progress.files_per_second:,.0f}/s, "
            f"{progress.jobs_queued:,} queued) in {progress.current_directory}"
        )
    return f"scanned {progress.files_seen:,} files in {progress.elapsed_seconds:.0f} s"


PAUSE_REASON_SHOWN = 80
"""Characters of a pause's reason the one-line header shows."""


def scheduler_pause(pause: jobs_pb2.SchedulerPause, now: float) -> str:
    """``paused: encoder libx265 is not in ffmpeg ..., next try in 2m05s``: why the server starts
    no job and how long until it tries again (``now`` is this machine's ``time.time()``).

    The reason may quote a library file's name: it is shown as one short line of printable text.
    """
    reason = one_line(pause.reason, PAUSE_REASON_SHOWN)
    line = f"paused: {reason or 'environment failure'}"
    if not pause.HasField("next_try_time"):
        return line
    left = pause.next_try_time.ToMicroseconds() / 1_000_000 - now
    return (
        f"{line}, next try in {format_duration(left)}" if left >= 0.5 else f"{line}, next try now"
    )
