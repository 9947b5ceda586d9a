"""What the control plane answers with: status, scan reports, explanations, profile summaries.

Plain values; the gRPC servicer turns them into protobuf messages.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from clustercode.library import ScanStats
from clustercode.models import Decision, DecisionKind, JobState
from clustercode.profiles import ProfileSet

__all__ = [
    "KEPT_DECISIONS",
    "Explanation",
    "ProfileSummary",
    "ScanProgress",
    "ScanReport",
    "SchedulerPause",
    "Status",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """Health and load of the control service."""

    version: str
    executor: str
    executor_error: str
    redis_error: str
    queue_depth: int
    active_jobs: int
    counts: Mapping[JobState, int] = field(default_factory=dict)
    scan: ScanProgress | None = None
    pause: SchedulerPause | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerPause:
    """Why the scheduler starts no job for now: the environment cannot do the work.

    Attributes:
        reason: what the failed step reported, one line, bounded (see
            :meth:`clustercode.jobs.scheduler.Scheduler.pause`).
        next_try: when the scheduler starts queued jobs again, ``time.time()`` seconds.
        pauses: pauses in a row since a job last succeeded, this one included.
    """

    reason: str
    next_try: float
    pauses: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanProgress:
    """Where the running (or last) library scan is.

    Attributes:
        running: whether a scan is walking or deciding now.
        files: media files seen so far.
        directories: directories listed so far.
        files_per_second: files seen per second since the scan began.
        directory: the directory being listed (the last one, once finished).
        decided: files decided so far.
        queued: jobs queued so far.
        seconds: time since the scan began (its duration, once finished).
    """

    running: bool
    files: int
    directories: int
    files_per_second: float
    directory: str
    decided: int
    queued: int
    seconds: float

    @classmethod
    def of(cls, report: ScanReport) -> ScanProgress:
        """A snapshot of a report being filled in."""
        now = time.monotonic()
        stats = report.stats
        return cls(
            running=not report.finished,
            files=stats.files,
            directories=stats.dirs,
            files_per_second=report.rate(now),
            directory=stats.directory,
            decided=report.decided,
            queued=report.queued,
            seconds=stats.seconds if report.finished else now - report.started,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Why a file is (or is not) transcoded, and how.

    Attributes:
        origins: setting -> the file (and line) or default that decided it.
        values: setting -> its effective value, as text.
        slices: about how many slices the file would be cut into.
        frames: about how many video frames it has.
    """

    path: str
    profile: str
    origins: Mapping[str, str]
    values: Mapping[str, str]
    output: str
    decision: Decision
    skip_reason: str
    slices: int
    frames: int
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileSummary:
    """A named profile as ListProfiles shows it."""

    name: str
    origin: str
    container: str
    video: tuple[str, ...]
    audio: tuple[str, ...] | None
    slice_seconds: float
    priority: int
    description: str = ""

    @classmethod
    def of(cls, profiles: ProfileSet, name: str) -> ProfileSummary:
        """The summary of the profile ``name`` of ``profiles``."""
        profile = profiles.get(name)
        return cls(
            name=name,
            origin=str(profiles.source(name)),
            container=profile.container,
            video=profile.video,
            audio=profile.audio,
            slice_seconds=profile.slice_seconds,
            priority=profile.priority,
            description=profile.description,
        )


KEPT_DECISIONS = 10_000
"""Decisions a scan report keeps by default; the rest are only counted (a library of a million
files would otherwise hold a million decisions in memory)."""


@dataclass(slots=True, kw_only=True)
class ScanReport:
    """The outcome of one scan: decisions per kind, the first of them, and the walk's statistics.

    Filled in while the scan runs, so a status call can show a scan in progress.

    Attributes:
        decisions: the first ``keep`` decisions, in walk order.
        stats: the walk's statistics (files seen, directories listed, the current directory).
        queued: how many jobs the scan has created.
        counts: decisions by kind (all of them, kept or not); computed from ``decisions`` when
            a report is built from a list.
        keep: how many decisions to keep.
        started: ``time.monotonic()`` when the scan began.
        finished: whether the walk and every decision are done.
    """

    decisions: list[Decision] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    queued: int = 0
    counts: Counter[DecisionKind] = field(default_factory=Counter)
    keep: int = KEPT_DECISIONS
    started: float = field(default_factory=time.monotonic)
    finished: bool = False

    def __post_init__(self) -> None:
        if self.decisions and not self.counts:
            self.counts = Counter(d.kind for d in self.decisions)

    def add(self, decision: Decision) -> None:
        """Count a decision, and keep it while fewer than ``keep`` are kept."""
        self.counts[decision.kind] += 1
        if len(self.decisions) < self.keep:
            self.decisions.append(decision)

    @property
    def decided(self) -> int:
        """Decisions made so far."""
        return sum(self.counts.values())

    @property
    def truncated(self) -> bool:
        """Whether decisions were counted but not kept."""
        return self.decided > len(self.decisions)

    def rate(self, now: float | None = None) -> float:
        """Files seen per second since the scan began."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        return self.stats.files / elapsed if elapsed > 0 else 0.0
