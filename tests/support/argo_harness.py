"""Start ``tools/argo-harness``: Argo's own workflow-controller behind argo-server's REST API.

The harness runs Argo Workflows' controller in-process against in-memory Kubernetes stores and a
process kubelet that runs each pod's main container as a local process (see docs/argo.md). Build
it with ``make argo-harness``; without the binary the tests that need it skip (or fail under
``CLUSTERCODE_REQUIRE_TOOLS=1``).

Besides argo-server's API it serves hooks a test uses, under ``/harness/v1``:

- ``PUT /harness/v1/workflows/{ns}/{name}/delete-pod`` with ``{"task": "encode", "attempt": 0,
  "parameters": {"index": "1"}, "after_seconds": 0.5}``: delete the pod of that task attempt once
  its process runs (as ``kubectl delete pod`` would); the kubelet kills the process and Argo's
  controller decides what follows.
- ``GET /harness/v1/workflows/{ns}/{name}/pods``: every pod the controller created for the
  Workflow with its Pod Security "restricted" verdict.
- ``GET /harness/v1/workflows/{ns}/{name}/stats``: per template, how many processes ran at once
  at most.
- ``DELETE /harness/v1/pods/{ns}/{name}``: delete one pod.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REQUIRE_TOOLS

__all__ = ["HARNESS", "ArgoHarness", "harness_binary", "start_argo_harness"]

HARNESS = Path(__file__).resolve().parents[2] / "tools" / "argo-harness" / "argo-harness"
_READY = "argo-harness listening on "


def harness_binary() -> Path:
    """The harness binary, or skip (fail under ``CLUSTERCODE_REQUIRE_TOOLS=1``) without it."""
    found = os.environ.get("CLUSTERCODE_ARGO_HARNESS")
    path = Path(found) if found else HARNESS
    if path.is_file():
        return path
    message = f"{path} is not built (make argo-harness)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message} (CLUSTERCODE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArgoHarness:
    """A running harness.

    Attributes:
        url: argo-server's base URL.
        process: the harness process.
        token: the bearer token it was started with, if any.
    """

    url: str
    process: subprocess.Popen[str]
    token: str | None = None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def hook(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Call a ``/harness/v1`` hook; return its JSON answer."""
        response = httpx.request(
            method, f"{self.url}/harness/v1/{path}", json=body, headers=self._headers(),
            timeout=10, verify=False,
        )  # fmt: skip
        response.raise_for_status()
        return response.json()

    def delete_pod_when_running(self, namespace: str, workflow: str, **rule: Any) -> None:
        """Delete the pod of a task attempt once its process runs."""
        self.hook("PUT", f"workflows/{namespace}/{workflow}/delete-pod", rule)

    def pods(self, namespace: str, workflow: str) -> list[dict[str, Any]]:
        """The Workflow's pods with their Pod Security verdicts."""
        pods: list[dict[str, Any]] = self.hook("GET", f"workflows/{namespace}/{workflow}/pods")
        return pods

    def stats(self, namespace: str, workflow: str) -> dict[str, dict[str, int]]:
        """Per template: processes running now, most at once, started."""
        stats: dict[str, dict[str, int]] = self.hook(
            "GET", f"workflows/{namespace}/{workflow}/stats"
        )
        return stats


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
    process.wait(timeout=10)
    raise RuntimeError(f"argo-harness did not start (exit status {process.returncode})")


def harness_argv(
    *,
    listen: str = "127.0.0.1:0",
    token: str | None = None,
    token_file: Path | None = None,
    claims: Mapping[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
    max_parallel: int | None = None,
    verbose: bool = False,
) -> list[str]:
    """The harness command line."""
    argv = [str(harness_binary()), "--listen", listen]
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
    if verbose:
        argv.append("-v")
    return argv


@contextlib.contextmanager
def start_argo_harness(
    *,
    listen: str = "127.0.0.1:0",
    token: str | None = None,
    token_file: Path | None = None,
    claims: Mapping[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
    max_parallel: int | None = None,
    log_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[ArgoHarness]:
    """Start the harness on ``listen`` (default: a free loopback port); stop it on exit.

    Args:
        listen: HOST:PORT.
        token: bearer token every request must carry.
        token_file: file holding that token, read per request.
        claims: local directory of each PersistentVolumeClaim name.
        tls: certificate and key files; the harness then speaks HTTPS.
        max_parallel: most pods running at once (the node's capacity).
        log_file: where the harness's log (``-v``) goes; default: discarded.
        env: environment of the harness and so of the steps (default: this process's).
        timeout: seconds to wait for it to listen.
    """
    argv = harness_argv(
        listen=listen, token=token, token_file=token_file, claims=claims, tls=tls,
        max_parallel=max_parallel, verbose=log_file is not None,
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        stderr: Any = (
            stack.enter_context(log_file.open("a")) if log_file is not None else subprocess.DEVNULL
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
            yield ArgoHarness(url=url, process=process, token=token)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
