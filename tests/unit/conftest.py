"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clustercode.executors.local import LocalExecutor


@pytest.fixture
async def executor() -> AsyncIterator[LocalExecutor]:
    ex = LocalExecutor(max_parallel=4, kill_grace=0.5, poll_interval=0.05)
    yield ex
    await ex.close()
