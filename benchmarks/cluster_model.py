"""A discrete-event model of one film's Workflow on N encode slots, for ``bench_cluster``.

The Workflow is ``split`` (serial) -> one ``encode`` per slice (parallel, at most N at a time)
and ``audio`` (parallel with them) -> ``merge`` (serial, includes verification) -> ``cleanup``.
Every step is a pod: it costs the pod start latency plus the step program's start-up before its
work, and the controller notices a finished step after a reconcile delay before it starts the
steps that depend on it.

The event loop is hand-written over :mod:`heapq` (about 40 lines) rather than simpy: the model
is one FIFO queue in front of N identical servers plus two serial steps, which needs no process
or resource abstractions, and a plain loop adds no dependency and is easy to check by hand
(tests/unit/test_cluster_model.py does). Slices are handed out in order, each to the first slot
that is free; a slice's encode time is its measured cost times a straggler factor drawn from a
log-normal distribution (median 1, shape ``straggler_sigma``), one draw per slice, seeded.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_POD_START",
    "DEFAULT_RECONCILE",
    "DEFAULT_STRAGGLER_SIGMA",
    "Costs",
    "Overheads",
    "simulate",
    "wall_time",
]

DEFAULT_POD_START = 5.0
"""Seconds from a step started to its container running: scheduling and starting a container
whose image is already on the node (typical Kubernetes figures are 2-10 s; not measured here)."""

DEFAULT_RECONCILE = 1.0
"""Seconds from a step finishing to the Workflow controller starting its dependents."""

DEFAULT_STRAGGLER_SIGMA = 0.15
"""Log-normal shape of slice encode times around their cost: scenes differ in complexity and
nodes in speed; 0.15 puts one slice in twenty about 30% above its cost."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Costs:
    """Measured costs of the steps' work, in seconds on one core.

    Attributes:
        encode_fixed: per slice, whatever the length (process start, seek, encoder warm-up).
        encode_per_second: per second of video encoded at one thread.
        split_fixed: ``split`` whatever the length (probing).
        split_per_second: ``split`` per second of source (reading packets).
        merge_fixed: ``merge`` whatever the length.
        merge_per_second: ``merge`` (join, mux, verify) per second of output.
        audio_per_second: ``audio`` per second of source (0 when audio is copied).
        step_startup: a step program's start-up (interpreter, imports), per step.
    """

    encode_fixed: float
    encode_per_second: float
    split_fixed: float
    split_per_second: float
    merge_fixed: float
    merge_per_second: float
    audio_per_second: float
    step_startup: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Overheads:
    """Cluster overheads that this machine cannot measure; parameters with defaults.

    Attributes:
        pod_start: seconds from a step being started to its container running (scheduling,
            image cached, container start).
        reconcile: seconds from a step finishing to the controller starting its dependents.
        straggler_sigma: shape of the log-normal spread of slice encode times.
    """

    pod_start: float = DEFAULT_POD_START
    reconcile: float = DEFAULT_RECONCILE
    straggler_sigma: float = DEFAULT_STRAGGLER_SIGMA


def simulate(
    *,
    duration: float,
    slice_seconds: float,
    slots: int,
    costs: Costs,
    overheads: Overheads,
    rng: random.Random,
) -> float:
    """Wall time of one film's Workflow on ``slots`` parallel encode slots (one run)."""
    count = max(1, math.ceil(duration / slice_seconds))
    lengths = [min(slice_seconds, duration - i * slice_seconds) for i in range(count)]
    sigma = overheads.straggler_sigma
    step = overheads.pod_start + costs.step_startup  # before any step's work begins

    # The event loop: (time, sequence, action); an action may schedule more events.
    events: list[tuple[float, int, Callable[[float], None]]] = []
    sequence = 0
    finished = 0.0

    def at(time: float, action: Callable[[float], None]) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(events, (time, sequence, action))

    pending = list(range(count))
    free = slots
    left = count + 1  # encodes plus audio

    def start_work(now: float) -> None:
        nonlocal free
        while free > 0 and pending:
            index = pending.pop(0)
            free -= 1
            factor = rng.lognormvariate(0.0, sigma) if sigma > 0 else 1.0
            work = (costs.encode_fixed + costs.encode_per_second * lengths[index]) * factor
            at(now + step + work, encode_done)

    def encode_done(now: float) -> None:
        nonlocal free
        free += 1
        part_done(now)
        start_work(now)

    def part_done(now: float) -> None:
        nonlocal left
        left -= 1
        if left == 0:
            merge = costs.merge_fixed + costs.merge_per_second * duration
            at(now + overheads.reconcile + step + merge, merge_done)

    def merge_done(now: float) -> None:
        nonlocal finished
        finished = now  # cleanup runs after the output is published; not on the critical path

    def split_done(now: float) -> None:
        begin = now + overheads.reconcile
        at(begin, start_work)
        at(begin + step + costs.audio_per_second * duration, part_done)

    at(step + costs.split_fixed + costs.split_per_second * duration, split_done)
    while events:
        time, _, action = heapq.heappop(events)
        action(time)
    return finished


def wall_time(
    *,
    duration: float,
    slice_seconds: float,
    slots: int,
    costs: Costs,
    overheads: Overheads,
    runs: int = 50,
    seed: int = 1,
) -> float:
    """Mean wall time over ``runs`` seeded runs (the same seeds for every configuration)."""
    rng = random.Random(seed)
    return statistics.fmean(
        simulate(
            duration=duration,
            slice_seconds=slice_seconds,
            slots=slots,
            costs=costs,
            overheads=overheads,
            rng=rng,
        )
        for _ in range(runs)
    )
