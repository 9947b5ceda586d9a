"""The one root error of clustercode and a subclass per area.

Messages are written for the user who must act on them. The gRPC servicer maps each class to a
status code in one table; the CLI prints the message, never a traceback.
"""

from __future__ import annotations


class ClustercodeError(Exception):
    """Root of every error clustercode raises on purpose."""


class ConfigError(ClustercodeError):
    """The configuration is invalid."""


class ProfileError(ClustercodeError):
    """A profile or ``.clustercode.yaml`` file is invalid; the message names file, line and key."""


class InvalidArgumentError(ClustercodeError):
    """A request argument is invalid.

    Attributes:
        field: the request field at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PathOutsideLibraryError(InvalidArgumentError):
    """A path is not inside any library root."""


class NotFoundError(ClustercodeError):
    """A job, file or profile does not exist."""


class FailedPreconditionError(ClustercodeError):
    """The request is valid but not in the current state (e.g. cancel a finished job)."""


class StaleRunError(FailedPreconditionError):
    """A job moved on to a newer run (another controller, a restart): this run's news is old."""


class LeaseError(FailedPreconditionError):
    """Another control service holds the store's lease, or this one lost it."""


class UnavailableError(ClustercodeError):
    """A backing service (Redis, the executor, argo-server) cannot be reached."""


class ResourceExhaustedError(ClustercodeError):
    """A limit of the server is reached (e.g. the number of open watch streams)."""


class ToolError(ClustercodeError):
    """A tool the work needs (ffmpeg, an encoder) is missing or cannot do the work exactly."""


class ExecutorError(ClustercodeError):
    """The executor refused or could not run a workflow."""


class ManifestError(ExecutorError):
    """A Workflow manifest uses something the local executor does not support."""


def excerpt(text: str, limit: int = 80) -> str:
    """Quote at most ``limit`` characters of untrusted text for a message (``repr`` form).

    Requests and library files can be arbitrarily long; a message quotes only their start.
    """
    return repr(text if len(text) <= limit else text[:limit] + "...")


def one_line(text: str, limit: int = 300) -> str:
    """Untrusted text as one line of at most ``limit`` characters, for a status or a log line.

    Line breaks, tabs, terminal escapes and other unprintable characters (a file name may hold
    any of them) become spaces, runs of spaces one space; a longer text is cut and ends in "...".
    """
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= limit else line[: max(0, limit - 3)] + "..."


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first (no cycles).

    Client libraries wrap the cause a user can act on (refused, timed out, bad certificate)
    several layers down; messages are made from the whole chain.
    """
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
