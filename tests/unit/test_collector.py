"""The scan's collector threshold: raised inside, restored when the last scan ends."""

from __future__ import annotations

import gc

from clustercode.jobs.collector import fewer_collections


def test_threshold_raised_while_scans_run_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    with fewer_collections(threshold=123_456):
        assert gc.get_threshold() == (123_456, *before[1:])
        with fewer_collections(threshold=1):
            assert gc.get_threshold()[0] == 123_456
        assert gc.get_threshold()[0] == 123_456
    assert gc.get_threshold() == before
