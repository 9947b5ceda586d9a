"""The ``clustercode`` command: run, serve, doctor, explain, history, profiles, render, config.

Results go to stdout, errors to stderr as one line each; no traceback reaches the user.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from clustercode.cli.config_reference import config
from clustercode.cli.console import EXIT_FAILED, EXIT_INTERRUPTED
from clustercode.cli.parser import build_parser
from clustercode.errors import ClustercodeError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``clustercode`` command."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["tui"]:
        # The UI is a separate program that talks only gRPC; it is not imported here.
        os.execv(sys.executable, [sys.executable, "-m", "tui", *arguments[1:]])  # noqa: S606
    args = build_parser().parse_args(arguments)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from clustercode.cli import commands as _commands  # imports the control plane: only now

    handler = {
        "run": _commands.run,
        "serve": _commands.serve,
        "doctor": _commands.doctor,
        "explain": _commands.explain,
        "history": _commands.history,
        "profiles": _commands.profiles,
        "render": _commands.render,
        "config": config,
    }[args.command]
    try:
        return asyncio.run(handler(args))
    except ClustercodeError as exc:
        print(f"clustercode: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        # A file the user named cannot be read or written: say which, without a traceback.
        print(f"clustercode: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("clustercode: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
