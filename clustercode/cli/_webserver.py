"""textual-serve's web server, adapted for ``clustercode web`` (see :mod:`clustercode.cli.web`)."""

from __future__ import annotations

import asyncio
import logging
import threading
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from clustercode.server.app import ListenAddress

__all__ = ["WebServer"]

log = logging.getLogger(__name__)


class WebServer(Server):
    """textual-serve's server, with clustercode's logging, per-request page URLs and an
    Origin check on the WebSocket."""

    def __init__(self, command: str, listen: ListenAddress, public_url: str | None) -> None:
        """Serve ``command`` (a shell command line, quoted) on ``listen``."""
        super().__init__(
            command,
            host=listen.host or "0.0.0.0",  # noqa: S104 (":PORT" asks for every interface)
            port=listen.port,
            title="clustercode",
        )
        self._public_url = public_url.rstrip("/") if public_url else None
        self.listen = listen

    def initialize_logging(self) -> None:
        """Keep the logging the CLI configured (textual-serve would install its own)."""

    async def on_startup(self, app: web.Application) -> None:
        """Say where the page is."""
        log.info("web view on http://%s/ (the terminal UI)", self.listen.grpc_target())

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.on_cleanup.append(self._reap_ui_processes)
        return app

    async def _reap_ui_processes(self, app: web.Application) -> None:
        """Wait, while the event loop still runs, until asyncio has seen every UI process exit.

        Each browser tab's UI is a child process; asyncio learns of its exit from a watcher
        thread. If the loop closed first, the process's transport would be collected later and
        print a traceback into the log of a clean shutdown.
        """
        for thread in threading.enumerate():
            if thread.name.startswith("waitpid-"):  # asyncio's ThreadedChildWatcher
                await asyncio.to_thread(thread.join, 5.0)
        await asyncio.sleep(0.1)  # let the exit callbacks close the transports

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, its script and WebSocket URLs pointing where the browser came from."""
        # The base class builds absolute URLs from public_url; without a configured one, use
        # the address this browser reached (0.0.0.0 or a pod IP mean nothing to a browser).
        # No await lies between this assignment and its use, so requests cannot mix them up.
        self.public_url = self._public_url or _origin_of(request)
        response: web.StreamResponse = await super().handle_index(request)
        return response

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Refuse WebSockets opened by another site's page: the UI acts with the token."""
        origin = request.headers.get("Origin")
        allowed = {request.host, urlsplit(_origin_of(request)).netloc}
        if self._public_url:
            allowed.add(urlsplit(self._public_url).netloc)
        if origin is not None and urlsplit(origin).netloc not in allowed:
            log.warning("refused a web view connection from origin %s", origin)
            raise web.HTTPForbidden(text="cross-origin connection refused\n")
        response: web.WebSocketResponse = await super().handle_websocket(request)
        return response


def _origin_of(request: web.Request) -> str:
    """``scheme://host`` the browser used; behind a TLS-terminating proxy, as it forwards them
    (the URLs go into this browser's own page, so a forged header misleads only its sender)."""
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{scheme}://{host}"
