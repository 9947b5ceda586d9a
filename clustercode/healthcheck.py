"""``python -m clustercode.healthcheck [HOST:PORT]``: is the control service serving?

A container health check (compose, ``docker run --health-cmd``) for images without
``grpc_health_probe``. It asks the standard ``grpc.health.v1`` service, which needs no token, and
exits 0 when the answer is SERVING, 1 otherwise, with one line on stdout or stderr. Without an
argument it checks ``$CLUSTERCODE_LISTEN`` (the address ``clustercode serve`` listens on), a
wildcard host (``0.0.0.0``, ``[::]``) standing for loopback, else ``127.0.0.1:50051``.

It imports nothing of the control plane, so a check every few seconds stays cheap.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

__all__ = ["check", "main", "probe_target"]

DEFAULT_TARGET = "127.0.0.1:50051"

_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}  # noqa: S104


def probe_target(listen: str | None) -> str:
    """Return the gRPC target that reaches a server listening on ``listen``.

    Args:
        listen: a listen address as ``clustercode serve`` takes it (``HOST:PORT`` or
            ``unix:PATH``), or None for the default.
    """
    if not listen:
        return DEFAULT_TARGET
    if listen.startswith("unix:"):
        return listen
    host, _, port = listen.rpartition(":")
    return f"{_WILDCARD_HOSTS.get(host, host)}:{port}"


def check(target: str, *, timeout: float = 5.0) -> str:
    """Ask the health service at ``target`` about the whole server; return the status name.

    Raises:
        grpc.RpcError: the server cannot be reached or does not answer in time.
    """
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return name


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when the service answers SERVING."""
    parser = argparse.ArgumentParser(
        prog="python -m clustercode.healthcheck",
        description="Exit 0 when the clustercode control service reports SERVING.",
    )
    parser.add_argument(
        "target", nargs="?", help="HOST:PORT (default: from $CLUSTERCODE_LISTEN, else 127.0.0.1)"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    target = args.target or probe_target(os.environ.get("CLUSTERCODE_LISTEN"))
    try:
        status = check(target, timeout=args.timeout)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        name = code.name if code is not None else "ERROR"
        print(f"clustercode health: {target}: {name}", file=sys.stderr)
        return 1
    print(f"clustercode health: {target}: {status}")
    return 0 if status == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main())
