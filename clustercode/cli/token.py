"""``clustercode token new [--file FILE] [--force]``: make a bearer token for the API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clustercode.config.token import new_token, write_token_file

__all__ = ["add_token_parser", "token"]


def add_token_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``token new``."""
    parser = sub.add_parser("token", help="make a bearer token for the gRPC API")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="a new random token, printed or written to --file")
    new.add_argument("--file", help="write it here with mode 0600 instead of printing it")
    new.add_argument("--force", action="store_true", help="replace an existing --file")
    new.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)


async def token(args: argparse.Namespace) -> int:
    """Print a new token, or write it to ``--file`` (mode 0600) and say where."""
    if args.file is None:
        print(new_token())
        return 0
    path = Path(args.file)
    write_token_file(path, overwrite=args.force)
    print(f"wrote a new token to {path} (mode 0600); serve --token-file {path}", file=sys.stderr)
    return 0
