"""What the control plane answers with: status, explanations, profile summaries.

Plain values; the gRPC servicer turns them into protobuf messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clustercode.models import Decision, JobState

__all__ = ["Explanation", "ProfileSummary", "Status"]


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
