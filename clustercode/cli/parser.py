"""The ``clustercode`` command line: every subcommand's options, and the settings they make."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from clustercode import __version__
from clustercode.config import Settings, load_settings
from clustercode.models import JobState

__all__ = ["build_parser", "settings_from"]


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

    reference = sub.add_parser(
        "config", help="every setting: config key, environment variable, default, meaning"
    )
    reference.add_argument("--json", action="store_true", help="machine-readable output")
    reference.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)
    profiles = sub.add_parser("profiles", help="list the named profiles")
    _common(profiles)

    doctor = sub.add_parser(
        "doctor", help="check ffmpeg, the encoders profiles need, Redis and the executor"
    )
    _common(doctor)
    doctor.add_argument("--profile", help="the library's default profile (its encoders are needed)")
    doctor.add_argument("--executor", choices=("local", "argo"), help="where workflows run")
    doctor.add_argument(
        "--recheck", action="store_true", help="run the ffmpeg self-test again (ignore the cache)"
    )
    doctor.add_argument(
        "--ffmpeg-only",
        action="store_true",
        help="check ffmpeg and the profiles' encoders only, not Redis or the executor",
    )

    render = sub.add_parser("render", help="print the Workflow YAML that would be submitted")
    render.add_argument("file", help="media file (inside a library root)")
    render.add_argument("--library", type=Path, dest="library", help="its library root")
    render.add_argument("--output", type=Path, dest="output", help="output root")
    render.add_argument("--profile", help="named profile to use")
    render.add_argument("--executor", choices=("local", "argo"), default="argo")
    _common(render)
    return parser


def settings_from(args: argparse.Namespace, *, require_library: bool = True) -> Settings:
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
