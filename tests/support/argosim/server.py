"""The simulated argo-server as an object: start it in this process, use its URL, stop it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from clustercode.executors.local import LocalExecutor
from tests.support.argosim._http import ApiServer
from tests.support.argosim._store import Simulation

__all__ = ["SimulatedArgoServer"]


class SimulatedArgoServer:
    """A test stand-in for argo-server that runs submitted Workflows on this machine.

    Use as an async context manager; :attr:`url` is set once it is entered.

    Args:
        host: address to listen on.
        port: port to listen on (0: a free port).
        token: bearer token every request must carry (``None`` with no ``token_file``: none).
        token_file: file holding that token, read for every request (so it can rotate).
        claims: host directory of each PersistentVolumeClaim name a Workflow may mount.
        tls: certificate and key files (PEM); without them it speaks plain HTTP.
        max_parallel: most step processes at once over all Workflows (default: CPU count).
        kill_grace: seconds between SIGTERM and SIGKILL when a step is stopped.
        scratch_dir: where the local executor keeps progress files.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        token_file: Path | None = None,
        claims: Mapping[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        max_parallel: int | None = None,
        kill_grace: float = 2.0,
        scratch_dir: Path | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._token = token
        self._token_file = token_file
        self._claims = dict(claims or {})
        self._tls = tls
        self._executor = LocalExecutor(
            max_parallel=max_parallel or os.cpu_count() or 1,
            kill_grace=kill_grace,
            scratch_dir=scratch_dir,
            keep_finished=100_000,
        )
        self._api: ApiServer | None = None
        self.url = ""

    def _expected_token(self) -> str | None:
        if self._token_file is None:
            return self._token
        try:
            return self._token_file.read_text(encoding="utf-8").strip()
        except OSError:
            return "\0unreadable token file: nothing matches"

    async def start(self) -> None:
        """Listen and run submitted Workflows."""
        simulation = Simulation(self._executor, self._claims)
        self._api = ApiServer(
            simulation,
            asyncio.get_running_loop(),
            host=self._host,
            port=self._port,
            token=self._expected_token,
            tls=self._tls,
        )
        self._api.start()
        self.url = self._api.url

    async def stop(self) -> None:
        """Stop listening and cancel every running Workflow."""
        if self._api is not None:
            await asyncio.to_thread(self._api.stop)
            self._api = None
        await self._executor.close()

    async def __aenter__(self) -> SimulatedArgoServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
