"""Build and run the gRPC server: the API, reflection, health, the token check, shutdown.

:class:`ApiServer` is the server as an object (start, ``bound_port``, stop) for tests and
embedding; :func:`serve` is what ``clustercode serve`` runs: it refuses an unprotected
non-loopback address, then serves until SIGTERM, SIGINT or the ``stop`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
from grpc_health.v1 import (
    _async as health_aio,  # public name health.aio is missing from the type stubs
)
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from clustercode.api.v1 import service_pb2_grpc
from clustercode.errors import ConfigError
from clustercode.server.auth import BearerTokenInterceptor
from clustercode.server.control import ControlPlane
from clustercode.server.decoding import RequestDecodingInterceptor
from clustercode.server.health import HealthMonitor
from clustercode.server.servicer import SERVICE_NAME, ClustercodeServicer
from clustercode.server.tls import TlsFiles

__all__ = ["DEFAULT_GRACE_SECONDS", "DEFAULT_LISTEN", "ApiServer", "ListenAddress", "serve"]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_GRACE_SECONDS = 5.0

_SERVER_OPTIONS = (
    # Without this grpc sets SO_REUSEPORT and a second server on the same port starts silently.
    ("grpc.so_reuseport", 0),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenAddress:
    """A parsed listen address: ``HOST:PORT`` or ``unix:PATH``.

    Attributes:
        host: the host or IP address ("" for every interface); empty for a unix socket.
        port: the TCP port, 0 for any free one; 0 for a unix socket.
        unix_path: the socket path of a ``unix:PATH`` address, else empty.
    """

    host: str = ""
    port: int = 0
    unix_path: str = ""

    @classmethod
    def parse(cls, listen: str) -> ListenAddress:
        """Parse ``HOST:PORT``, ``[IPV6]:PORT``, ``:PORT`` (every interface) or ``unix:PATH``.

        Raises:
            ConfigError: the address has no port, the port is not 0-65535, or PATH is empty.
        """
        if listen.startswith("unix:"):
            if not listen[5:]:
                raise ConfigError(f"listen address {listen!r}: expected unix:PATH")
            return cls(unix_path=listen[5:])
        host, sep, port_text = listen.rpartition(":")
        if not sep or not port_text.isdigit() or int(port_text) > 65535:
            raise ConfigError(
                f"listen address {listen!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN} or "
                "0.0.0.0:50051, or unix:PATH"
            )
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return cls(host=host, port=int(port_text))

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can connect (unix socket, localhost, 127.0.0.0/8, ::1)."""
        if self.unix_path or self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # another host name: it may resolve to anything

    def grpc_target(self, port: int | None = None) -> str:
        """Return the address in grpc's form, optionally with another port."""
        if self.unix_path:
            return f"unix:{self.unix_path}"
        host = self.host or "[::]"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port if port is None else port}"


def check_exposure(
    address: ListenAddress, *, token: str | None, allow_insecure_remote: bool, tls: bool = False
) -> None:
    """Refuse to serve other machines without a token, unless the user said so; warn without TLS.

    Raises:
        ConfigError: address is not loopback, token is None and allow_insecure_remote is False.
    """
    if address.is_loopback:
        return
    if not tls:
        log.warning(
            "WARNING: serving %s to other machines WITHOUT TLS: the bearer token and every "
            "request travel in clear text, readable and replayable by anyone on the network. "
            "Set tls_cert and tls_key (--tls-cert/--tls-key), or listen on 127.0.0.1 behind "
            "a TLS proxy or tunnel.",
            address.grpc_target(),
        )
    if token is not None:
        return
    if allow_insecure_remote:
        log.warning(
            "serving %s without a token: anyone who reaches it can submit, cancel and delete jobs",
            address.grpc_target(),
        )
        return
    raise ConfigError(
        f"refusing to listen on {address.grpc_target()} without a token: anyone who can reach "
        "that address could submit, cancel and delete jobs. Set a token (a token file or "
        "$CLUSTERCODE_TOKEN), listen on 127.0.0.1, or allow it explicitly "
        "(allow_insecure_remote, --allow-insecure-remote)."
    )


class ApiServer:
    """The gRPC server of one control plane: ClustercodeService, reflection and health.

    Use ``async with ApiServer(...) as server:`` or ``await start()`` / ``await stop()``.
    Once started, ``bound_port`` and ``address`` tell the port picked for port 0, and ``target``
    is what a client on this machine dials.
    """

    def __init__(
        self,
        control: ControlPlane,
        *,
        listen: str = DEFAULT_LISTEN,
        token: str | None = None,
        allow_insecure_remote: bool = False,
        interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
        tls: TlsFiles | None = None,
        health_interval: float = 5.0,
        check_health: bool = False,
    ) -> None:
        """Check the configuration; nothing is bound until :meth:`start`.

        Args:
            control: the control plane the RPCs act on.
            listen: ``HOST:PORT`` to listen on; port 0 picks a free port.
            token: the bearer token clients must send; None serves without authentication.
            allow_insecure_remote: allow a non-loopback address without a token.
            interceptors: run before the token check (e.g. metrics, which count refusals too).
            tls: serve TLS with these files (None: plain TCP).
            health_interval: seconds between the health service's checks of Redis and the
                executor.
            check_health: let the health service follow the control plane's status (Redis,
                executor); without it, only the background tasks given to :meth:`watch_task`.

        Raises:
            ConfigError: a bad listen address, or a non-loopback one without a token.
        """
        self.listen_address = ListenAddress.parse(listen)
        check_exposure(
            self.listen_address,
            token=token,
            allow_insecure_remote=allow_insecure_remote,
            tls=tls is not None,
        )
        self._tls = tls
        self._credentials = tls.server_credentials() if tls is not None else None
        self._health_interval = health_interval
        self._check_health = check_health
        self._monitor: HealthMonitor | None = None
        self._monitoring: asyncio.Task[None] | None = None
        self._watched: list[asyncio.Task[Any]] = []
        self._control = control
        self._token = token
        self._interceptors = list(interceptors)
        self._shutdown = asyncio.Event()
        self._server: grpc.aio.Server | None = None
        self._health: Any = None
        self._port: int | None = None

    @property
    def bound_port(self) -> int:
        """The TCP port the server listens on (0 for a unix socket), once started."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def address(self) -> str:
        """The address the server listens on, with the bound port, once started."""
        return self.listen_address.grpc_target(self.bound_port)

    @property
    def target(self) -> str:
        """The address a client on this machine dials, once started."""
        listen = self.listen_address
        if listen.unix_path:
            return listen.grpc_target()
        host = listen.host
        if not host or host in ("0.0.0.0", "::"):  # noqa: S104 (a comparison, not a bind)
            host = "127.0.0.1"
        return ListenAddress(host=host, port=self.bound_port).grpc_target()

    async def start(self) -> None:
        """Bind the address and start serving.

        Raises:
            ConfigError: the address cannot be bound (in use, or not this machine's).
        """
        # Metrics first (they count refusals too), then authentication, so an unauthenticated
        # call is UNAUTHENTICATED whatever its body; the decoding interceptor hands it a handler
        # that takes raw bytes.
        interceptors: list[Any] = [*self._interceptors]
        if self._token:
            interceptors.append(BearerTokenInterceptor(self._token))
        interceptors.append(RequestDecodingInterceptor())
        server = grpc.aio.server(interceptors=interceptors, options=_SERVER_OPTIONS)
        service_pb2_grpc.add_ClustercodeServiceServicer_to_server(
            ClustercodeServicer(self._control, shutdown=self._shutdown), server
        )
        self._health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        target = self.listen_address.grpc_target()
        try:
            if self._credentials is not None:
                port = server.add_secure_port(target, self._credentials)
            else:
                port = server.add_insecure_port(target)
        except RuntimeError as error:
            port = 0
            log.debug("binding %s failed: %s", target, error)
        if not port:
            raise ConfigError(f"cannot listen on {target}: the address is in use or not local")
        await server.start()
        for name in ("", SERVICE_NAME):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._monitor = HealthMonitor(
            self._health,
            self._control if self._check_health else None,
            ("", SERVICE_NAME),
            interval=self._health_interval,
        )
        for task in self._watched:
            self._monitor.watch(task)
        self._monitoring = asyncio.create_task(self._monitor.run(), name="clustercode-health")
        # grpc reports 1 for a unix socket, which has no port.
        self._server, self._port = server, 0 if self.listen_address.unix_path else port
        log.info(
            "clustercode API listening on %s (%s, %s)",
            self.address,
            "bearer token required" if self._token else "no token",
            "plain TCP" if self._tls is None else ("mutual TLS" if self._tls.client_ca else "TLS"),
        )

    def watch_task(self, task: asyncio.Task[Any]) -> None:
        """Report NOT_SERVING once ``task`` (a background task of the service) ends."""
        self._watched.append(task)
        if self._monitor is not None:
            self._monitor.watch(task)

    async def stop(self, grace: float | None = DEFAULT_GRACE_SECONDS) -> None:
        """Stop: report NOT_SERVING, end watch streams, let unary calls finish within grace."""
        server = self._server
        if server is None:
            return
        self._server = None
        if self._monitoring is not None:
            self._monitoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitoring
        await self._health.enter_graceful_shutdown()
        self._shutdown.set()
        await server.stop(grace)
        log.info("clustercode API stopped")

    async def __aenter__(self) -> ApiServer:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()


async def serve(
    controller: ControlPlane,
    *,
    listen: str = DEFAULT_LISTEN,
    token: str | None = None,
    allow_insecure_remote: bool = False,
    stop: asyncio.Event | None = None,
    grace: float = DEFAULT_GRACE_SECONDS,
    on_listening: Callable[[ApiServer], None] | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
    tls: TlsFiles | None = None,
    background: Sequence[asyncio.Task[Any]] = (),
) -> None:
    """Serve the API until SIGTERM, SIGINT or ``stop``; then shut down gracefully.

    Args:
        controller: the control plane the RPCs act on.
        listen: ``HOST:PORT``; port 0 picks a free port (see ``on_listening``).
        token: the bearer token clients must send (see ``auth.resolve_token``); None for none.
        allow_insecure_remote: allow a non-loopback address without a token.
        stop: set it to shut down; created here if None.
        grace: seconds in-flight calls get to finish at shutdown.
        on_listening: called with the started server, e.g. to print ``address`` or learn
            ``bound_port``.
        interceptors: more server interceptors, run before the token check.
        tls: serve TLS with these files.
        background: tasks that must live as long as the server; health turns NOT_SERVING
            when one ends.

    Raises:
        ConfigError: a bad or unbindable address, or an unprotected non-loopback one.
    """
    stop = stop or asyncio.Event()
    server = ApiServer(
        controller,
        listen=listen,
        token=token,
        allow_insecure_remote=allow_insecure_remote,
        interceptors=interceptors,
        tls=tls,
        check_health=True,
    )
    for task in background:
        server.watch_task(task)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Only the main thread may handle signals; elsewhere the caller sets `stop` itself.
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(signum, _on_signal, signum, stop)
            handled.append(signum)
    try:
        await server.start()
        if on_listening is not None:
            on_listening(server)
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await server.stop(grace)


def _on_signal(signum: signal.Signals, stop: asyncio.Event) -> None:
    log.info("received %s, shutting down", signum.name)
    stop.set()
