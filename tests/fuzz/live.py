"""A real ``clustercode serve`` for the fuzz tests, calls by raw bytes, and a count of them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from tests.integration.serve_process import ServeProcess, serve_process

TOKEN = "fuzz-token-0123456789abcdefghijklmnop"
AUTH = (("authorization", f"Bearer {TOKEN}"),)
SERVICE = "clustercode.v1.ClustercodeService"

# What the README promises a client can see; anything else (INTERNAL, UNKNOWN) is a bug.
DOCUMENTED = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,  # a method name that does not exist
    }
)


@dataclass(slots=True)
class CallLog:
    """Every call made and the codes seen."""

    calls: int = 0
    codes: dict[grpc.StatusCode, int] = field(default_factory=dict)
    undocumented: list[str] = field(default_factory=list)

    def note(self, method: str, code: grpc.StatusCode, detail: str) -> None:
        self.calls += 1
        self.codes[code] = self.codes.get(code, 0) + 1
        if code not in DOCUMENTED:
            self.undocumented.append(f"{method}: {code.name}: {detail[:200]}")


class LiveServer:
    """A real ``clustercode serve`` process (embedded Redis, local executor, token, scans)."""

    def __init__(self, root: Path, *args: str) -> None:
        self._root = root
        self._args = args
        self.library = root / "library"
        self.library.mkdir(parents=True, exist_ok=True)
        self.log = CallLog()
        self.channel: grpc.Channel | None = None
        self._serving: contextlib.AbstractContextManager[ServeProcess] | None = None
        self.process: ServeProcess | None = None

    def __enter__(self) -> LiveServer:
        self._serving = serve_process(
            self._root,
            "--scan-interval",
            "2",
            "--max-attempts",
            "1",
            *self._args,
            token=TOKEN,
            env={"CLUSTERCODE_RETRY_BACKOFF": "0"},
        )
        self.process = self._serving.__enter__()
        self.channel = grpc.insecure_channel(self.process.address)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.channel is not None:
            self.channel.close()
        assert self._serving is not None
        self._serving.__exit__(*exc)

    def problems(self) -> list[str]:
        """Log lines of the server that show a traceback or an error."""
        assert self.process is not None
        return [line for line in self.process.log if "Traceback" in line or " ERROR " in line]

    def call(
        self,
        method: str,
        body: bytes,
        metadata: Sequence[tuple[str, str]] = AUTH,
        *,
        service: str = SERVICE,
        stream: bool = False,
        timeout: float = 5.0,
    ) -> tuple[grpc.StatusCode, bytes]:
        """Call ``/service/method`` with a raw request body; note and return the status."""
        assert self.channel is not None
        path = f"/{service}/{method}"
        reply = b""
        try:
            if stream:
                responses: Iterable[bytes] = self.channel.unary_stream(path, None, None)(
                    body, metadata=tuple(metadata), timeout=timeout
                )
                for reply in responses:  # noqa: B007  # the last one is returned
                    pass
            else:
                reply = self.channel.unary_unary(path, None, None)(
                    body, metadata=tuple(metadata), timeout=timeout
                )
            code, detail = grpc.StatusCode.OK, ""
        except grpc.RpcError as error:
            code, detail = error.code(), error.details() or ""
        if stream and code is grpc.StatusCode.DEADLINE_EXCEEDED:
            code = grpc.StatusCode.OK  # a watch runs until the client's deadline
        self.log.note(method, code, detail)
        return code, reply

    def healthy(self) -> bool:
        """Whether the health service says SERVING and GetStatus answers."""
        from grpc_health.v1 import health_pb2

        code, reply = self.call(
            "Check",
            health_pb2.HealthCheckRequest().SerializeToString(),
            service="grpc.health.v1.Health",
        )
        status_code, _ = self.call("GetStatus", b"")
        serving = health_pb2.HealthCheckResponse.FromString(reply).status
        return (
            code is grpc.StatusCode.OK
            and serving == health_pb2.HealthCheckResponse.SERVING
            and status_code is grpc.StatusCode.OK
        )
