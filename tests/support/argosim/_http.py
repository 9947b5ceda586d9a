"""The simulated argo-server's HTTP side: argo-server's REST paths for Workflows.

The standard library's threading HTTP server parses requests; every request is handed to the
:class:`~tests.support.argosim._store.Simulation` on the event loop that runs the Workflows.
Errors are answered as argo-server's gRPC gateway does: ``{"code": <gRPC code>, "message": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import threading
from collections.abc import Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.argosim._store import ApiError, Simulation

log = logging.getLogger(__name__)

_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13}
_WORKFLOWS = re.compile(r"^/api/v1/workflows/(?P<ns>[^/]+)/?$")
_WORKFLOW = re.compile(r"^/api/v1/workflows/(?P<ns>[^/]+)/(?P<name>[^/]+)(?:/(?P<action>[a-z]+))?$")
_KILL = re.compile(r"^/simulation/v1/workflows/(?P<ns>[^/]+)/(?P<name>[^/]+)/kill$")
_VERSION = "v4.1.2+simulated"

TokenSource = Callable[[], str | None]


class ApiServer:
    """Serves the simulation over HTTP (or HTTPS) from a background thread.

    Args:
        simulation: the Workflows.
        loop: the event loop the simulation lives on.
        host: address to listen on.
        port: port to listen on (0: any free port).
        token: returns the bearer token requests must carry, or ``None`` for no check; called
            for every request, so a token file can be rotated.
        tls: certificate and key files; without them the server speaks plain HTTP.
    """

    def __init__(
        self,
        simulation: Simulation,
        loop: asyncio.AbstractEventLoop,
        *,
        host: str,
        port: int,
        token: TokenSource,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        handler = type(
            "Handler",
            (_Handler,),
            {"simulation": simulation, "loop": loop, "token": staticmethod(token)},
        )
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            # The handshake happens in the request's thread, so a refusing client blocks nobody.
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self.scheme = "https"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="simulated argo-server", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, each answer waits for a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "simulated-argo-server"
    simulation: Simulation
    loop: asyncio.AbstractEventLoop
    token: TokenSource

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            body = self._body()
            self._check_token()
            status, answer = 200, self._run(self._route(method, body))
        except ApiError as exc:
            status, answer = (
                exc.status,
                {"code": _GRPC_CODES.get(exc.status, 2), "message": exc.message},
            )
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        except Exception as exc:  # the simulation's defect must not hang the client
            log.exception("%s %s failed", method, self.path)
            status, answer = 500, {"code": 13, "message": f"simulated argo-server: {exc}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            body = json.loads(self.rfile.read(length))
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body is not a JSON object")
        return body

    def _check_token(self) -> None:
        expected = type(self).token()
        if expected is None:
            return
        given = self.headers.get("Authorization", "")
        if given != f"Bearer {expected}":
            raise ApiError(
                401, "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/"
            )

    def _run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def _route(self, method: str, body: dict[str, Any]) -> Coroutine[Any, Any, Any]:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        sim = self.simulation
        if url.path == "/api/v1/version" and method == "GET":
            return _value({"version": _VERSION})
        if match := _WORKFLOWS.match(url.path):
            ns = match["ns"]
            if method == "POST":
                return sim.create(ns, body)
            if method == "GET":
                limit = query.get("listOptions.limit", "")
                return sim.list(
                    ns,
                    query.get("listOptions.labelSelector", ""),
                    int(limit) if limit.isdigit() else None,
                    query.get("listOptions.continue"),
                )
        if match := _WORKFLOW.match(url.path):
            ns, name, action = match["ns"], match["name"], match["action"]
            if action is None and method == "GET":
                return sim.get(ns, name)
            if action is None and method == "DELETE":
                return _then_empty(sim.delete(ns, name))
            if action in ("stop", "terminate") and method == "PUT":
                return sim.shut_down(ns, name, action.capitalize())
        if (match := _KILL.match(url.path)) and method == "PUT":
            return sim.arm_kill(match["ns"], match["name"], body)
        raise ApiError(404, f"the simulated argo-server does not serve {method} {url.path}")


async def _value(value: Any) -> Any:
    return value


async def _then_empty(work: Coroutine[Any, Any, None]) -> dict[str, Any]:
    await work
    return {}
