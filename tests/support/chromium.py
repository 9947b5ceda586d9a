"""Headless Chromium driven over the DevTools protocol, for the web view's tests.

:func:`headless_chromium` starts Debian's ``chromium`` with a fresh profile and remote debugging
on a free port; :class:`Page` sends protocol commands to one tab over a WebSocket (the
``websockets`` package) and evaluates JavaScript in it.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

__all__ = ["CHROMIUM_FLAGS", "Page", "headless_chromium"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
)


class Page:
    """One browser tab, driven through its DevTools WebSocket."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events arriving meanwhile are dropped).

        Raises:
            RuntimeError: the browser answered with an error.
        """
        call_id = next(self._ids)
        self._connection.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._connection.recv(timeout=60))
            if message.get("id") != call_id:
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise).

        Raises:
            RuntimeError: the expression threw.
        """
        reply = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")


def _debugging_port(profile: Path, process: subprocess.Popen[bytes], timeout: float) -> int:
    """Chromium writes the port it picked for ``--remote-debugging-port=0`` to the profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        if marker.exists() and (lines := marker.read_text().splitlines()):
            return int(lines[0])
        time.sleep(0.1)
    raise RuntimeError(f"chromium wrote no {marker} within {timeout:.0f} s")


@contextmanager
def headless_chromium(binary: str, profile: Path, *, timeout: float = 60) -> Iterator[Page]:
    """Start ``binary`` headless with a fresh ``profile`` directory; yield its first tab.

    The browser is killed when the block ends.
    """
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port = _debugging_port(profile, process, timeout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            targets = json.load(reply)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with connect(url, max_size=None, open_timeout=timeout) as connection:
            yield Page(connection)
    finally:
        process.kill()
        process.wait(timeout=30)
