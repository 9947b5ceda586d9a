"""Bearer-token authentication for the gRPC server.

Clients send the metadata ``authorization: Bearer <token>``. Every RPC needs it except the health
and reflection services, so probes and ``grpcurl list`` work without a secret.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from clustercode.config.token import check_token, read_token_file
from clustercode.server._interceptor import ServerInterceptor as _Interceptor
from clustercode.server.errors import AuthenticationError, status_for

__all__ = [
    "OPEN_SERVICES",
    "TOKEN_ENV",
    "BearerTokenInterceptor",
    "resolve_token",
]

log = logging.getLogger(__name__)

TOKEN_ENV = "CLUSTERCODE_TOKEN"  # noqa: S105 (a variable name, not a secret)

# Services anyone may call. Both reflection versions stay open: grpcurl asks v1 first and falls
# back to v1alpha only when v1 answers UNIMPLEMENTED, not UNAUTHENTICATED.
OPEN_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
)

_BEARER = re.compile(r"bearer\s+(\S+)\s*", re.IGNORECASE)


def resolve_token(
    *,
    token: str | None = None,
    token_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Find the server's token: the explicit value, else the token file, else $CLUSTERCODE_TOKEN.

    Args:
        token: a token from the settings or the command line.
        token_file: a file whose content (surrounding whitespace stripped) is the token.
        environ: the environment to read ``CLUSTERCODE_TOKEN`` from; ``os.environ`` by default.

    Returns:
        The token, or None when none is configured.

    Raises:
        ConfigError: the token file cannot be read, or a token is empty or has characters a
            header cannot carry.
    """
    if token is not None:
        return check_token(token, "token")
    if token_file is not None:
        return read_token_file(Path(token_file))
    token = (os.environ if environ is None else environ).get(TOKEN_ENV)
    return None if token is None else check_token(token.strip(), f"${TOKEN_ENV}")


class BearerTokenInterceptor(_Interceptor):
    """Refuse calls without ``authorization: Bearer <token>`` with UNAUTHENTICATED."""

    def __init__(self, token: str) -> None:
        """Create the interceptor.

        Args:
            token: the token clients must present.
        """
        self._token = token.encode()

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        """Pass authorized and open calls on; answer the rest with UNAUTHENTICATED."""
        method = handler_call_details.method
        service = method.lstrip("/").partition("/")[0]
        if service in OPEN_SERVICES:
            return await continuation(handler_call_details)
        problem = self._problem(handler_call_details.invocation_metadata or ())
        if problem is None:
            return await continuation(handler_call_details)
        log.info("refused %s: %s", method, problem)
        handler = await continuation(handler_call_details)
        if handler is None:  # unknown method: let the server answer UNIMPLEMENTED
            return handler
        return _refusal(handler, problem)

    def _problem(self, metadata: Any) -> str | None:
        """Return why the call's metadata does not authorize it, or None if it does."""
        values = [value for key, value in metadata if key.lower() == "authorization"]
        if not values:
            return (
                "missing bearer token: send the metadata 'authorization: Bearer <token>' "
                "(grpcurl: -H 'authorization: Bearer <token>')"
            )
        value = values[0]
        match = _BEARER.fullmatch(value if isinstance(value, str) else value.decode("latin-1"))
        if match is None:
            return "malformed authorization metadata: expected 'Bearer <token>'"
        if not hmac.compare_digest(match.group(1).encode("latin-1", "replace"), self._token):
            return "invalid bearer token"
        return None


def _refusal(
    handler: grpc.RpcMethodHandler[Any, Any], problem: str
) -> grpc.RpcMethodHandler[Any, Any]:
    """Return a handler of the same shape as handler that aborts with UNAUTHENTICATED."""
    code, message = status_for(AuthenticationError(problem))

    # grpc.aio awaits a coroutine behaviour for every kind of RPC, streaming ones included.
    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(code, message)

    kind: Callable[..., grpc.RpcMethodHandler[Any, Any]]
    if handler.request_streaming and handler.response_streaming:
        kind = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        kind = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        kind = grpc.unary_stream_rpc_method_handler
    else:
        kind = grpc.unary_unary_rpc_method_handler
    return kind(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
