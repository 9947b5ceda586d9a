"""The one table that maps clustercode errors to gRPC status codes.

Every servicer method runs inside :func:`grpc_errors`, so an error raised anywhere below the
servicer reaches the client as the code of its class with its user-facing message. Errors not in
the table are bugs: the client gets INTERNAL with a generic message and the traceback goes to the
log only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import grpc

from clustercode.errors import (
    ClustercodeError,
    ConfigError,
    ExecutorError,
    FailedPreconditionError,
    InvalidArgumentError,
    ManifestError,
    NotFoundError,
    ProfileError,
    ResourceExhaustedError,
    UnavailableError,
)

__all__ = [
    "FIELD_METADATA_KEY",
    "INTERNAL_MESSAGE",
    "STATUS_CODES",
    "AuthenticationError",
    "grpc_errors",
    "status_for",
]

log = logging.getLogger(__name__)


class AuthenticationError(ClustercodeError):
    """The request carries no bearer token, or the wrong one."""


# Looked up along the exception's MRO, so the most specific class listed wins
# (PathOutsideLibraryError is an InvalidArgumentError; ManifestError is an ExecutorError).
STATUS_CODES: Mapping[type[BaseException], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    # A broken profile or configuration is the server's state, not the request's fault: the
    # message names the file and line the operator must fix.
    ProfileError: grpc.StatusCode.FAILED_PRECONDITION,
    ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ExecutorError: grpc.StatusCode.UNAVAILABLE,
    # A manifest the local executor cannot run is our bug, not something the caller can fix.
    ManifestError: grpc.StatusCode.INTERNAL,
    AuthenticationError: grpc.StatusCode.UNAUTHENTICATED,
}

INTERNAL_MESSAGE = "internal error; the server log has the details"

MAX_MESSAGE_CHARS = 2000
"""Longer messages are cut: they may quote a request or a file, whatever its size."""

# Trailing metadata key that carries the request field of an INVALID_ARGUMENT, for programs.
FIELD_METADATA_KEY = "clustercode-field"


def status_for(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """Return the status code and the message the client sees for an error.

    Args:
        error: what the servicer or the layers below it raised.

    Returns:
        The code from :data:`STATUS_CODES` and the error's message; for unlisted errors (and
        listed ones that map to INTERNAL) INTERNAL and a generic message.
    """
    for cls in type(error).__mro__:
        code = STATUS_CODES.get(cls)
        if code is None:
            continue
        if code is grpc.StatusCode.INTERNAL:
            break
        message = str(error) or cls.__name__
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + "..."
        return code, message
    return grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE


class grpc_errors:  # lowercase like contextlib.suppress: it reads as `async with grpc_errors(...)`
    """Async context manager that turns an error raised inside it into the RPC's status.

    Aborts (grpc's own ``AbortError``) and cancellation pass through untouched. It never
    swallows an error, which its ``__aexit__`` type says, so type checkers know a ``return``
    inside the block is the only way out.
    """

    __slots__ = ("_context", "_rpc")

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any], rpc: str) -> None:
        """Create the manager.

        Args:
            context: the RPC's context.
            rpc: the RPC's name, for the log.
        """
        self._context = context
        self._rpc = rpc

    async def __aenter__(self) -> None:
        """Enter the block."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Abort the RPC with the status the table gives the error, if there is one."""
        if error is None or not isinstance(error, Exception):
            return
        if isinstance(error, grpc.aio.AbortError):
            return
        code, message = status_for(error)
        if code is grpc.StatusCode.INTERNAL:
            log.error("%s failed", self._rpc, exc_info=error)
        else:
            log.info("%s: %s: %s", self._rpc, code.name, message)
        metadata: tuple[tuple[str, str], ...] = ()
        if isinstance(error, InvalidArgumentError):
            metadata = ((FIELD_METADATA_KEY, error.field),)
        await self._context.abort(code, message, trailing_metadata=metadata)
