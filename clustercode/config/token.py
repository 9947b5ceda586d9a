"""The API's bearer token: its shape, its file's permissions, and making a new one.

The token travels in an HTTP/2 header and is compared byte for byte, so it must be visible ASCII
without spaces ("my token" would start a server no client can call). Whoever can read the token
file can do everything the API allows, so the file must not be readable by others (nor by a
group other than the service's own, which is how Kubernetes mounts secrets with ``fsGroup``).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from pathlib import Path

from clustercode.errors import ConfigError

__all__ = ["MIN_TOKEN_CHARS", "check_token", "new_token", "read_token_file", "write_token_file"]

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 32
"""Shorter tokens are accepted with a warning; generated ones are 43 characters."""

_SHAPE = re.compile(r"[\x21-\x7e]+")


def check_token(token: str, source: str) -> str:
    """Return ``token`` if it can be a bearer token.

    Raises:
        ConfigError: it is empty or has spaces, control or non-ASCII characters.
    """
    if not _SHAPE.fullmatch(token):
        raise ConfigError(
            f"{source}: the token must be non-empty printable ASCII without spaces; make one "
            "with `clustercode token new --file FILE`"
        )
    if len(token) < MIN_TOKEN_CHARS:
        log.warning(
            "%s: the token has only %d characters; a guessable token guards nothing "
            "(`clustercode token new` makes a %d-character one)",
            source,
            len(token),
            len(new_token()),
        )
    return token


def read_token_file(path: Path) -> str:
    """Read a token file, refusing one that others can read.

    Raises:
        ConfigError: unreadable, too open, empty, or not a token.
    """
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            data = handle.read(4096)
    except OSError as exc:
        raise ConfigError(f"token_file: cannot read {path}: {exc.strerror}") from None
    mode = stat.S_IMODE(info.st_mode)
    foreign_group = mode & 0o070 and info.st_gid != os.getegid()
    if mode & 0o007 or foreign_group:
        raise ConfigError(
            f"token_file: {path} is readable by {'others' if mode & 0o007 else 'its group'} "
            f"(mode {mode:04o}); anyone who reads it controls the API. Fix: chmod 600 {path}"
        )
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"token_file: {path} is not text") from None
    if not text:
        raise ConfigError(f"token_file: {path} is empty")
    return check_token(text, f"token_file {path}")


def new_token() -> str:
    """A new random token: 32 bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def write_token_file(path: Path, *, overwrite: bool = False) -> str:
    """Write a new token to ``path`` with mode 0600, atomically; return the token.

    Raises:
        ConfigError: the file exists (without ``overwrite``) or cannot be written.
    """
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; remove it or pass --force to replace the token")
    token = new_token()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        os.chmod(temporary, 0o600)  # noqa: PTH101  # whatever the umask was
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    return token
