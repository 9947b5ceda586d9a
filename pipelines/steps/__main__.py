"""``clustercode-step``: the command line the Workflow's containers run.

Every step exits 0 on success. On failure it prints one line, ``clustercode-step STEP: reason``,
to stderr and exits 1, 2 for a usage error, 3 when the environment is at fault (no usable
ffmpeg, a missing encoder, a full disk); a user never sees a traceback.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from pipelines.settings import EncodeSettings
from pipelines.steps.errors import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_USAGE,
    EnvironmentStepError,
    StepError,
)

PROG = "clustercode-step"

logger = logging.getLogger(PROG)

# OS errors that are the machine's fault (a full disk, a read-only or forbidden output).
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOMEM}
)


class _Terminated(Exception):
    """SIGTERM arrived (Argo stops a pod this way); unwinds so children and temp files go."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        step = self.prog.removeprefix(PROG).strip() or "usage"
        self.exit(EXIT_USAGE, f"{PROG} {step}: {message} (see {self.prog} --help)\n")


def _settings(text: str) -> EncodeSettings:
    try:
        return EncodeSettings.from_json(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a slice index: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"slice index must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every step."""
    parser = _Parser(prog=PROG, description="clustercode transcode steps")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the step does")
    steps = parser.add_subparsers(dest="step", required=True, parser_class=_Parser)

    def step(name: str, help_text: str, *, source: bool = True) -> argparse.ArgumentParser:
        sub = steps.add_parser(name, help=help_text, description=help_text)
        if source:
            sub.add_argument("--source", type=Path, required=True, help="the source media file")
            sub.add_argument("--settings", type=_settings, required=True, help="settings JSON")
        sub.add_argument("--work", type=Path, required=True, help="the job's work directory")
        return sub

    sub = step("split", "plan the slices of the source (copies no bytes)")
    sub.add_argument("--slices-out", type=Path, required=True, help="write the slice list here")
    sub = step("encode", "encode one slice from the source")
    sub.add_argument("--index", type=_index, required=True, help="slice index")
    step("audio", "encode the kept audio tracks of the whole source once")
    sub = step("merge", "join slices, mux the source's other streams, verify, publish")
    sub.add_argument("--output", type=Path, required=True, help="the published output file")
    sub.add_argument("--result-out", type=Path, help="result JSON (default WORK/result.json)")
    step("cleanup", "remove the job's work directory", source=False)
    return parser


def _check_environment(args: argparse.Namespace) -> None:
    """Before any work: a usable ffmpeg (checked once per binary, cached) with the encoders
    the settings name."""
    if args.step == "cleanup":
        return
    from pipelines.encoders import missing_encoders
    from pipelines.steps._ffmpeg_run import ffmpeg

    binary = ffmpeg()
    settings: EncodeSettings = args.settings
    wanted = list(settings.video)
    if args.step in {"audio", "split"} and settings.audio is not None:
        wanted += settings.audio
    missing = missing_encoders(wanted, binary.encoders)
    if missing:
        raise EnvironmentStepError(
            f"encoder {', '.join(missing)} is not in ffmpeg {binary.describe()}; use an ffmpeg "
            "that has it (CLUSTERCODE_FFMPEG=/path/to/ffmpeg; clustercode doctor lists them)"
        )


def _dispatch(args: argparse.Namespace) -> None:
    # Imported here so `--help` and usage errors stay fast and need no media libraries.
    _check_environment(args)
    if args.step == "split":
        from pipelines.steps.split import split

        split(
            source=args.source, work=args.work, settings=args.settings, slices_out=args.slices_out
        )
    elif args.step == "encode":
        from pipelines.steps.encode import encode

        encode(source=args.source, work=args.work, settings=args.settings, index=args.index)
    elif args.step == "audio":
        from pipelines.steps.audio import encode_audio

        encode_audio(source=args.source, work=args.work, settings=args.settings)
    elif args.step == "merge":
        from pipelines.steps.merge import merge

        merge(
            source=args.source,
            work=args.work,
            settings=args.settings,
            output=args.output,
            result_out=args.result_out,
        )
    else:
        from pipelines.steps.cleanup import cleanup

        cleanup(work=args.work)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; returns the process exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format=f"{PROG} {args.step}: %(message)s",
        stream=sys.stderr,
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    prefix = f"{PROG} {args.step}: "
    try:
        _dispatch(args)
    except EnvironmentStepError as exc:
        print(prefix + str(exc), file=sys.stderr)
        return EXIT_ENVIRONMENT
    except StepError as exc:
        print(prefix + str(exc), file=sys.stderr)
        return EXIT_FAILED
    except _Terminated:
        print(prefix + "stopped by SIGTERM", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(prefix + "interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{prefix}{exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ENVIRONMENT if exc.errno in _ENVIRONMENT_ERRNOS else EXIT_FAILED
    except Exception as exc:
        # A defect, not a user error: still one line, with enough to file a bug.
        logger.debug("unexpected error", exc_info=True)
        print(f"{prefix}unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
