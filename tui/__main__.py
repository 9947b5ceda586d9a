"""``python -m tui [--address HOST:PORT] [--token-file FILE] [--log-file FILE]``."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from tui.settings import DEFAULT_ADDRESS, TOKEN_ENV, Settings, TokenError, read_token

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tui",
        description="Terminal UI for a clustercode control service (its gRPC API).",
    )
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help=f"HOST:PORT of the clustercode API (default {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--token-file",
        help=f"file holding the server's bearer token (default: ${TOKEN_ENV}, else no token)",
    )
    parser.add_argument(
        "--log-file", help="write the TUI's log here (the screen itself never shows logs)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the TUI until the user quits; 2 for a bad token file or no Textual installed."""
    args = _parser().parse_args(argv)
    if importlib.util.find_spec("textual") is None:
        sys.stderr.write("clustercode tui: the terminal UI needs pip install 'clustercode[tui]'\n")
        return 2
    try:
        token = read_token(args.token_file)
    except TokenError as error:
        sys.stderr.write(f"clustercode tui: {error}\n")
        return 2
    # Log records must not reach the terminal Textual draws on: a file, or nowhere.
    handler: logging.Handler = (
        logging.FileHandler(args.log_file, encoding="utf-8")
        if args.log_file
        else logging.NullHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # grpc's C core writes its own warnings to stderr, under the screen.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")

    from tui.app import ClustercodeApp  # after GRPC_VERBOSITY: grpc reads it on import

    ClustercodeApp(Settings(address=args.address, token=token)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
