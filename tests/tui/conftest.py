"""The TUI against a real gRPC server on a free loopback port.

The server is the real :class:`~clustercode.server.ApiServer` over the in-memory control plane
of ``tests.integration.server_double``: the TUI talks real gRPC over a socket, and the double
records which calls reached the control plane.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from clustercode.server import ApiServer
from tests.integration.server_double import ControlDouble
from tests.tui.harness import TOKEN


@pytest.fixture
def control() -> ControlDouble:
    """The control plane below the server: three jobs (j1 running, j2 queued, j3 succeeded)."""
    return ControlDouble()


@pytest.fixture
async def server(control: ControlDouble) -> AsyncIterator[ApiServer]:
    """A server with a token on a free loopback port."""
    async with ApiServer(control, listen="127.0.0.1:0", token=TOKEN) as started:
        yield started
