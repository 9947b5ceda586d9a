"""What the TUI needs to know to reach the server, and how often it asks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clustercode.backoff import Backoff

__all__ = ["DEFAULT_ADDRESS", "TOKEN_ENV", "Settings", "TokenError", "read_token"]

DEFAULT_ADDRESS = "127.0.0.1:50051"
TOKEN_ENV = "CLUSTERCODE_TOKEN"  # noqa: S105 (a variable name, not a secret)


class TokenError(ValueError):
    """The token file cannot be read, or the token cannot travel in a header."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """How the TUI talks to the server.

    Attributes:
        address: ``HOST:PORT`` of the clustercode gRPC API.
        token: bearer token sent with every call; None when the server has none.
        timeout: seconds a unary call may take before it fails with DEADLINE_EXCEEDED.
        page_size: jobs per ListJobs page.
        status_every: seconds between two GetStatus calls (the header's refresh).
        reconnect_min: first wait before reopening a lost WatchJobs stream; doubles per failure.
        reconnect_max: longest wait between two reconnect attempts.
    """

    address: str = DEFAULT_ADDRESS
    token: str | None = None
    timeout: float = 10.0
    page_size: int = 50
    status_every: float = 3.0
    reconnect_min: float = 0.5
    reconnect_max: float = 15.0

    def reconnect_delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` failed ones in a row."""
        return Backoff(initial=self.reconnect_min, maximum=self.reconnect_max).delay(failures)


def read_token(token_file: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Find the token: the token file's content, else ``$CLUSTERCODE_TOKEN``, else None.

    Raises:
        TokenError: the file cannot be read, or the token is empty or not printable ASCII.
    """
    if token_file is not None:
        source = f"token file {token_file}"
        try:
            token: str | None = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise TokenError(f"cannot read the token file {token_file}: {error}") from error
    else:
        source = f"${TOKEN_ENV}"
        token = (os.environ if environ is None else environ).get(TOKEN_ENV)
        if token is None:
            return None
        token = token.strip()
    if not token:
        raise TokenError(f"the {source} is empty: put the server's token in it")
    # The token travels in an HTTP/2 header: visible ASCII only.
    if not all("\x21" <= char <= "\x7e" for char in token):
        raise TokenError(f"the {source} holds characters a header cannot carry (spaces, non-ASCII)")
    return token
