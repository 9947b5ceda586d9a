"""Run the simulated argo-server as its own process (``python -m tests.support.argosim``)."""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SimulatedArgoServerProcess", "start_simulated_argo_server"]

_READY = "simulated argo-server listening on "


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedArgoServerProcess:
    """A running simulated argo-server process.

    Attributes:
        url: its base URL.
        process: the process.
    """

    url: str
    process: subprocess.Popen[str]


def _wait_ready(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                if line.startswith(_READY):
                    return line.removeprefix(_READY).strip()
                if not line:
                    break
            if process.poll() is not None:
                break
    process.kill()
    _, errors = process.communicate(timeout=10)
    raise RuntimeError(f"the simulated argo-server did not start: {errors.strip()[-2000:]}")


@contextlib.contextmanager
def start_simulated_argo_server(
    *,
    token: str | None = None,
    token_file: Path | None = None,
    claims: Mapping[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
    max_parallel: int | None = None,
    log_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[SimulatedArgoServerProcess]:
    """Start ``python -m tests.support.argosim`` on a free loopback port; stop it on exit.

    Args:
        token: bearer token every request must carry.
        token_file: file holding that token, read per request.
        claims: host directory of each PersistentVolumeClaim name.
        tls: certificate and key files; the server then speaks HTTPS.
        max_parallel: most step processes at once.
        log_file: where the server's log (``--verbose``) goes; default: discarded.
        env: environment of the server and so of the steps (default: this process's).
        timeout: seconds to wait for it to listen.
    """
    argv = [sys.executable, "-m", "tests.support.argosim", "--listen", "127.0.0.1:0"]
    if token is not None:
        argv += ["--token", token]
    if token_file is not None:
        argv += ["--token-file", str(token_file)]
    for claim, directory in (claims or {}).items():
        argv += ["--volume", f"{claim}={directory}"]
    if tls is not None:
        argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    if max_parallel is not None:
        argv += ["--max-parallel", str(max_parallel)]
    if log_file is not None:
        argv.append("--verbose")
    with contextlib.ExitStack() as stack:
        stderr = (
            stack.enter_context(log_file.open("a")) if log_file is not None else subprocess.PIPE
        )
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=dict(env) if env is not None else dict(os.environ),
        )
        try:
            url = _wait_ready(process, timeout)
            yield SimulatedArgoServerProcess(url=url, process=process)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
