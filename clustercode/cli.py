"""The ``clustercode`` command: run, serve, explain, history, profiles, render.

Results go to stdout, errors to stderr as one line each; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clustercode import __version__
from clustercode.config import Settings, load_settings
from clustercode.errors import ClustercodeError
from clustercode.models import Job, JobState
from clustercode.progress import ProgressDisplay, describe

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (YAML); see the README")
    parser.add_argument("--state-dir", type=Path, help="history (embedded Redis) and work files")
    parser.add_argument("--redis-url", help="a Redis server instead of the embedded one")
    parser.add_argument("--profiles", type=Path, dest="profiles_dir", help="profiles directory")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")


def _library(parser: argparse.ArgumentParser, *, required: bool) -> None:
    nargs = None if required else "?"
    parser.add_argument("library", type=Path, nargs=nargs, help="library root (read-only)")
    parser.add_argument("output", type=Path, nargs=nargs, help="output root")
    parser.add_argument("--profile", help="use this named profile as the library default")
    parser.add_argument("--slice-seconds", type=float, help="target slice length in seconds")
    parser.add_argument("--parallel", type=int, help="slice encodes at once (local executor)")
    parser.add_argument("--max-jobs", type=int, help="files transcoded at once")
    parser.add_argument("--max-attempts", type=int, help="attempts before a file is parked")
    parser.add_argument("--executor", choices=("local", "argo"), help="where workflows run")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="clustercode",
        description="Transcode a media library in frame-exact slices, here or on Argo Workflows.",
    )
    parser.add_argument("--version", action="version", version=f"clustercode {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="scan LIBRARY, transcode what is new into OUTPUT, then exit")
    _library(run, required=False)
    _common(run)
    run.add_argument("--no-progress", action="store_true", help="plain lines, no live table")

    serve = sub.add_parser("serve", help="run the control service with its gRPC API")
    _library(serve, required=False)
    _common(serve)
    serve.add_argument("--listen", help="HOST:PORT of the gRPC API (default 127.0.0.1:50051)")
    serve.add_argument("--token-file", type=Path, help="file holding the API's bearer token")
    serve.add_argument(
        "--allow-insecure-remote",
        action="store_true",
        help="allow a non-loopback --listen without a token",
    )
    serve.add_argument("--scan-interval", type=float, help="seconds between library scans")

    explain = sub.add_parser("explain", help="show how FILE would be transcoded, and why")
    explain.add_argument("file", help="media file (inside a library root)")
    explain.add_argument("--library", type=Path, dest="library", help="its library root")
    explain.add_argument("--output", type=Path, dest="output", help="output root")
    explain.add_argument("--profile", help="library default profile")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    _common(explain)

    history = sub.add_parser("history", help="list, show or delete jobs in the history")
    hsub = history.add_subparsers(dest="action", required=True, metavar="ACTION")
    hlist = hsub.add_parser("list", help="list jobs, newest first")
    hlist.add_argument("--state", choices=[s.value for s in JobState])
    hlist.add_argument("--limit", type=int, default=50)
    hshow = hsub.add_parser("show", help="show one job and its slices")
    hshow.add_argument("job_id")
    hdel = hsub.add_parser("delete", help="delete a job (id or source path): the file is redone")
    hdel.add_argument("target", help="job id or source file path")
    for p in (hlist, hshow, hdel):
        _common(p)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--library", type=Path, action="append", dest="libraries")

    tui = sub.add_parser("tui", help="the terminal UI (same as clustercode-tui)", add_help=False)
    tui.add_argument("tui_args", nargs=argparse.REMAINDER)

    profiles = sub.add_parser("profiles", help="list the named profiles")
    _common(profiles)

    render = sub.add_parser("render", help="print the Workflow YAML that would be submitted")
    render.add_argument("file", help="media file (inside a library root)")
    render.add_argument("--library", type=Path, dest="library", help="its library root")
    render.add_argument("--output", type=Path, dest="output", help="output root")
    render.add_argument("--profile", help="named profile to use")
    render.add_argument("--executor", choices=("local", "argo"), default="argo")
    _common(render)
    return parser


def _settings(args: argparse.Namespace, *, require_library: bool = True) -> Settings:
    libraries = getattr(args, "libraries", None)
    library = getattr(args, "library", None)
    overrides: dict[str, Any] = {
        "libraries": libraries or ([library] if library is not None else None),
        "output": getattr(args, "output", None),
        "state_dir": args.state_dir,
        "redis_url": args.redis_url,
        "profiles_dir": args.profiles_dir,
        "profile": getattr(args, "profile", None),
        "slice_seconds": getattr(args, "slice_seconds", None),
        "parallel": getattr(args, "parallel", None),
        "max_jobs": getattr(args, "max_jobs", None),
        "max_attempts": getattr(args, "max_attempts", None),
        "executor": getattr(args, "executor", None),
        "listen": getattr(args, "listen", None),
        "token_file": getattr(args, "token_file", None),
        "allow_insecure_remote": getattr(args, "allow_insecure_remote", None) or None,
        "scan_interval": getattr(args, "scan_interval", None),
    }
    return load_settings(args.config, require_library=require_library, **overrides)


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
    from clustercode import _commands

    handler = {
        "run": _commands.run,
        "serve": _commands.serve,
        "explain": _commands.explain,
        "history": _commands.history,
        "profiles": _commands.profiles,
        "render": _commands.render,
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


def print_job(job: Job, *, as_json: bool) -> None:
    """One job as a line, or as JSON."""
    if as_json:
        from dataclasses import asdict

        print(json.dumps(asdict(job), sort_keys=True))
    else:
        print(f"{job.id}  {job.state.value:<9}  {job.profile:<6}  {describe(job, {})}")


def install_interrupt(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop`` (a second Ctrl-C interrupts at once)."""
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("clustercode: stopping: cancelling running jobs ...", file=sys.stderr)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal)


__all__ = ["EXIT_FAILED", "EXIT_OK", "ProgressDisplay", "build_parser", "main"]
