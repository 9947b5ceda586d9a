"""The reliability suite's Redis and its summary line.

Each test gets its own redis-server with an append-only file (it may be killed and restarted).
At the end of the session the suite's figures are printed: kills, jobs, lost jobs, duplicate
transcodes, wrong outputs, orphans, and the seeds used (see :mod:`tests.reliability.summary`,
called from the root conftest).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import REQUIRE_TOOLS
from tests.integration.conftest import DEBIAN_REDIS_SERVER
from tests.reliability.harness import RedisServer


@pytest.fixture(scope="session")
def redis_binary() -> str:
    """Debian's redis-server (skip, or fail under CLUSTERCODE_REQUIRE_TOOLS=1, if missing)."""
    if os.access(DEBIAN_REDIS_SERVER, os.X_OK):
        return DEBIAN_REDIS_SERVER
    message = f"{DEBIAN_REDIS_SERVER} is not installed (apt-get install redis-server)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


@pytest.fixture
def redis_server(
    redis_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """A redis-server of the test's own, outside the store's directories."""
    server = RedisServer(redis_binary, tmp_path_factory.mktemp("aof"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
