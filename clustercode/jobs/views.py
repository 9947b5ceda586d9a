"""What the control plane answers with: status, scan reports, explanations, profile summaries.

Plain values; the gRPC servicer turns them into protobuf messages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from clustercode.library import ScanStats
from clustercode.models import Decision, DecisionKind, Job, JobState

__all__ = ["Explanation", "ProfileSummary", "ScanReport", "Status"]


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


@dataclass(slots=True, kw_only=True)
class ScanReport:
    """The outcome of one scan: a decision per file, counts, and the walk's statistics."""

    decisions: list[Decision] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    queued: list[Job] = field(default_factory=list)

    @property
    def counts(self) -> Counter[DecisionKind]:
        """Decisions by kind."""
        return Counter(d.kind for d in self.decisions)
