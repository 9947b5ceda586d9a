"""The shared backoff policy: growth, cap, Argo's retryStrategy rule."""

from __future__ import annotations

import pytest

from clustercode.backoff import OUTAGE_BACKOFF, Backoff


def test_doubles_from_the_first_failure_up_to_the_cap() -> None:
    assert [OUTAGE_BACKOFF.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_zero_failures_waits_the_initial_delay() -> None:
    assert Backoff(initial=0.5).delay(0) == 0.5


def test_uncapped_grows_without_bound() -> None:
    assert Backoff(initial=30, maximum=None).delay(4) == 240


def test_argo_rule_duration_times_factor_to_the_retry_capped() -> None:
    # Argo: duration * factor ** retries, capped; retries counts from 0.
    policy = Backoff(initial=2, factor=3, maximum=50)
    assert [policy.delay(retry + 1) for retry in range(4)] == [2, 6, 18, 50]


@pytest.mark.parametrize("bad", [{"initial": -1}, {"factor": -2}, {"maximum": -1}])
def test_rejects_negative_values(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(**bad)
