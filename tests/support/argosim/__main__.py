"""``python -m tests.support.argosim``: run the simulated argo-server until SIGTERM or Ctrl-C.

Prints ``simulated argo-server listening on <URL>`` on standard output once it accepts requests.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from tests.support.argosim.server import SimulatedArgoServer


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _claim(text: str) -> tuple[str, str]:
    claim, sep, directory = text.partition("=")
    if not sep or not claim or not directory.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected CLAIM=/ABSOLUTE/DIR, got {text!r}")
    return claim, directory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.argosim",
        description="Simulated argo-server for tests: argo-server's REST API for Workflows, "
        "running each submitted Workflow's steps as local processes.",
    )
    parser.add_argument("--listen", type=_listen, default=("127.0.0.1", 2746), help="HOST:PORT")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token every request must carry")
    token.add_argument("--token-file", type=Path, help="file holding it (read per request)")
    parser.add_argument(
        "--volume",
        type=_claim,
        action="append",
        default=[],
        metavar="CLAIM=DIR",
        help="host directory behind a PersistentVolumeClaim (repeatable)",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="and this key (PEM)")
    parser.add_argument("--max-parallel", type=int, help="most step processes at once")
    parser.add_argument("--kill-grace", type=float, default=2.0, help="SIGTERM to SIGKILL, s")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every workflow event")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    host, port = args.listen
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    server = SimulatedArgoServer(
        host=host,
        port=port,
        token=args.token,
        token_file=args.token_file,
        claims=dict(args.volume),
        tls=tls,
        max_parallel=args.max_parallel,
        kill_grace=args.kill_grace,
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    async with server:
        print(f"simulated argo-server listening on {server.url}", flush=True)
        await done.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the simulated argo-server; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(_serve(args))
    except OSError as exc:
        print(f"simulated argo-server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
