"""The one table that maps errors to status codes."""

from __future__ import annotations

import grpc
import pytest

from clustercode.errors import (
    ClustercodeError,
    ConfigError,
    ExecutorError,
    FailedPreconditionError,
    InvalidArgumentError,
    ManifestError,
    NotFoundError,
    PathOutsideLibraryError,
    ProfileError,
    UnavailableError,
)
from clustercode.server.errors import INTERNAL_MESSAGE, AuthenticationError, status_for

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (NotFoundError("job x does not exist"), Code.NOT_FOUND, "job x does not exist"),
        (InvalidArgumentError("path", "is required"), Code.INVALID_ARGUMENT, "path: is required"),
        (
            PathOutsideLibraryError("path", "../x leaves the library"),
            Code.INVALID_ARGUMENT,
            "path: ../x leaves the library",
        ),
        (FailedPreconditionError("job x finished"), Code.FAILED_PRECONDITION, "job x finished"),
        (
            ProfileError("p.yaml line 4: unknown key"),
            Code.FAILED_PRECONDITION,
            "p.yaml line 4: unknown key",
        ),
        (ConfigError("bad redis url"), Code.FAILED_PRECONDITION, "bad redis url"),
        (UnavailableError("Redis is down"), Code.UNAVAILABLE, "Redis is down"),
        (ExecutorError("argo-server refused"), Code.UNAVAILABLE, "argo-server refused"),
        (AuthenticationError("invalid bearer token"), Code.UNAUTHENTICATED, "invalid bearer token"),
    ],
)
def test_table(error: Exception, code: grpc.StatusCode, message: str) -> None:
    assert status_for(error) == (code, message)


@pytest.mark.parametrize(
    "error",
    [
        ManifestError("template 'x' uses script"),  # our bug, although an ExecutorError
        ClustercodeError("something"),
        KeyError("internal detail"),
        RuntimeError("/srv/secret path"),
        AssertionError(),
    ],
)
def test_everything_else_is_internal_with_a_generic_message(error: Exception) -> None:
    assert status_for(error) == (Code.INTERNAL, INTERNAL_MESSAGE)


def test_subclass_of_a_listed_error_inherits_its_code() -> None:
    class JobGone(NotFoundError):
        pass

    assert status_for(JobGone("gone")) == (Code.NOT_FOUND, "gone")
