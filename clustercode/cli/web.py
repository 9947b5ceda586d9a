"""``clustercode web``: the terminal UI in a browser, served by ``textual-serve``.

Each browser tab gets its own ``python -m tui`` process, the same client as ``clustercode tui``
with the same token handling: ``--token-file``, else ``$CLUSTERCODE_TOKEN`` (inherited by the
process, never put on its command line). The page holds no token; whoever can open it acts with
the TUI's token, so it listens on loopback unless told otherwise, and a WebSocket from another
site's page (a different ``Origin``) is refused.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import shlex
import sys
from typing import Any

from clustercode.errors import ConfigError
from clustercode.server.app import ListenAddress
from clustercode.server.auth import resolve_token

__all__ = ["DEFAULT_WEB_LISTEN", "add_parser", "run"]

log = logging.getLogger(__name__)

DEFAULT_WEB_LISTEN = "127.0.0.1:8080"
_DEFAULT_API = "127.0.0.1:50051"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``web`` subcommand to the CLI's subparsers."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "web",
        help="serve the terminal UI in a browser (textual-serve)",
        description="Serve the terminal UI in a browser: each tab runs `clustercode tui` "
        "against --address with the token of --token-file (or $CLUSTERCODE_TOKEN). Whoever "
        "opens the page acts with that token: keep it on loopback, or behind a trusted "
        "network or an authenticating proxy.",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_WEB_LISTEN,
        metavar="HOST:PORT",
        help=f"address of the web page (default {DEFAULT_WEB_LISTEN}, this machine only)",
    )
    parser.add_argument(
        "--address",
        default=_DEFAULT_API,
        metavar="HOST:PORT",
        help=f"the clustercode gRPC API the UI talks to (default {_DEFAULT_API})",
    )
    parser.add_argument(
        "--token-file", help="file holding the API's bearer token (default: $CLUSTERCODE_TOKEN)"
    )
    parser.add_argument(
        "--public-url",
        help="the URL browsers reach this page at, when a proxy or ingress is in front "
        "(default: the address the browser used)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    """Serve the web view until Ctrl-C or SIGTERM.

    Raises:
        ConfigError: a bad address, or an unreadable or malformed token file.
    """
    listen = ListenAddress.parse(args.listen)
    if listen.unix_path:
        raise ConfigError("web --listen: expected HOST:PORT (a browser cannot reach unix:PATH)")
    ListenAddress.parse(args.address)
    # Checked here, so a bad token file is an error now and not a broken page later.
    token = resolve_token(token_file=args.token_file)
    command = [sys.executable, "-m", "tui", "--address", args.address]
    if args.token_file:
        command += ["--token-file", str(args.token_file)]
    if not _is_loopback(listen.host):
        log.warning(
            "the web view on %s acts on the API %s; anyone who can open it can "
            "cancel and delete jobs: keep it behind a trusted network or proxy",
            listen.grpc_target(),
            "with the token" if token else "(which has no token)",
        )
    try:
        from clustercode.cli._webserver import WebServer  # textual-serve: only now
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the web view needs pip install 'clustercode[tui]' ({exc.name} is missing)"
        ) from None

    # textual-serve starts the command through a shell: every word is quoted.
    try:
        WebServer(shlex.join(command), listen, args.public_url).serve()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.listen}: {exc.strerror}") from None
    return 0
