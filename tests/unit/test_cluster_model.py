"""The cluster model's event loop against figures worked out by hand."""

from __future__ import annotations

import random

import pytest

from benchmarks.cluster_model import Costs, Overheads, simulate, wall_time

COSTS = Costs(
    encode_fixed=2.0,
    encode_per_second=1.0,
    split_fixed=3.0,
    split_per_second=0.0,
    merge_fixed=4.0,
    merge_per_second=0.0,
    audio_per_second=0.0,
    step_startup=0.5,
)
EXACT = Overheads(pod_start=1.0, reconcile=0.25, straggler_sigma=0.0)


@pytest.mark.parametrize(("slots", "waves"), [(1, 10), (3, 4), (5, 2), (10, 1), (64, 1)])
def test_waves_of_equal_slices(slots: int, waves: int) -> None:
    # 10 slices of 60 s: each encode is 1.5 s of pod and start-up plus 62 s of work.
    wall = simulate(
        duration=600, slice_seconds=60, slots=slots, costs=COSTS, overheads=EXACT,
        rng=random.Random(0),
    )  # fmt: skip
    split = 1.5 + 3.0
    merge = 0.25 + 1.5 + 4.0
    assert wall == pytest.approx(split + 0.25 + waves * (1.5 + 62.0) + merge)


def test_last_slice_is_shorter_and_stragglers_only_slow_down() -> None:
    exact = simulate(
        duration=130, slice_seconds=60, slots=3, costs=COSTS, overheads=EXACT,
        rng=random.Random(0),
    )  # fmt: skip
    assert exact == pytest.approx(4.5 + 0.25 + (1.5 + 62.0) + 5.75)
    spread = Overheads(pod_start=1.0, reconcile=0.25, straggler_sigma=0.3)
    walls = [
        simulate(duration=600, slice_seconds=60, slots=10, costs=COSTS, overheads=spread,
                 rng=random.Random(seed))
        for seed in range(20)
    ]  # fmt: skip
    # With one slice per slot the slowest of ten draws decides: almost never below the median.
    assert sum(w > 4.5 + 0.25 + 63.5 + 5.75 for w in walls) >= 18
    assert wall_time(
        duration=600, slice_seconds=60, slots=10, costs=COSTS, overheads=spread
    ) == wall_time(duration=600, slice_seconds=60, slots=10, costs=COSTS, overheads=spread)
