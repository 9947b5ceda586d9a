"""``clustercode web`` in a real browser: headless Chromium opens the page, the page runs the
TUI against a real ``clustercode serve`` (with a token), and the jobs table shows the job."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import imageio_ffmpeg
import pytest

from tests.conftest import require_tool
from tests.integration.conftest import free_port
from tests.integration.serve_process import FAST_PROFILE, make_clip, serve_process, wait_for
from tests.support.chromium import headless_chromium

pytestmark = pytest.mark.timeout(300)

TOKEN = "web-view-token-7d1e-0123456789abcdef"

# The page's script keeps its xterm.js terminal to itself and draws it on a canvas. Catch the
# terminal as the page stores it, so the test can read the screen's text from its buffer.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    (window.__terminals = window.__terminals || []).push(value);
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true});
  },
});
"""

SCREEN_TEXT = """
(() => {
  const term = (window.__terminals || []).find(t => t && t.buffer && t.buffer.active);
  if (!term) return null;
  const buffer = term.buffer.active, lines = [];
  for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
  return lines.join("\\n");
})()
"""


def wait_listening(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"clustercode web exited with {process.returncode}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"clustercode web did not listen on {port} within {timeout:.0f} s")


def test_web_view_shows_the_jobs_of_a_real_service(tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    clip = make_clip(tmp_path / "library" / "shows" / "aurora-borealis.mkv", duration=2.0)
    env = {"CLUSTERCODE_FFMPEG": imageio_ffmpeg.get_ffmpeg_exe()}
    with serve_process(
        tmp_path, "--profile", "fast", env=env, token=TOKEN, profiles={"fast": FAST_PROFILE}
    ) as server:
        port = free_port()
        web = subprocess.Popen(
            [sys.executable, "-m", "clustercode", "web", "--listen", f"127.0.0.1:{port}",
             "--address", server.address, "--token-file", str(tmp_path / "token")],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_listening(port, web)
            # Another site's page may not open the UI's WebSocket (it acts with the token).
            foreign = urllib.request.Request(
                f"http://127.0.0.1:{port}/ws", headers={"Origin": "http://evil.example"}
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(foreign, timeout=10)
            refused.value.close()  # an HTTPError holds the response's socket
            assert refused.value.code == 403
            # Behind a TLS-terminating proxy the page points at the proxy's address.
            proxied = urllib.request.Request(
                f"http://127.0.0.1:{port}/",
                headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "media.example.org"},
            )
            with urllib.request.urlopen(proxied, timeout=10) as reply:
                page_text = reply.read().decode()
            assert 'data-session-websocket-url="wss://media.example.org/ws"' in page_text

            with headless_chromium(chromium, tmp_path / "chromium") as page:
                page.send("Page.enable")  # without it, the script below is not injected
                page.send("Network.enable")
                # The page links a web font from the internet; tests stay on this machine.
                page.send("Network.setBlockedURLs", urls=["*fonts.googleapis.com*"])
                page.send("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
                page.send("Page.navigate", url=f"http://127.0.0.1:{port}/")

                def screen_with(*words: str) -> str | None:
                    text = page.evaluate(SCREEN_TEXT)
                    return text if text and all(w in text for w in words) else None

                screen = wait_for(
                    lambda: screen_with(clip.name, "succeeded"), 120, "the job in the web view"
                )
                assert "-connected" in page.evaluate(
                    "document.querySelector('.textual-terminal').className"
                )
        finally:
            web.terminate()
            _, log = web.communicate(timeout=30)
    lines = screen.splitlines()
    assert "Jobs: all (1)" in screen, screen
    assert any(re.search(r"Job +State +Progress .* Source", line) for line in lines), screen
    # The table's row (the detail pane below may show the file too, once the job is selected).
    rows = [line for line in lines if re.search(r"│ [0-9a-f]{12} +succeeded ", line)]
    assert len(rows) == 1, screen
    assert re.search(rf"succeeded +100% .* {re.escape(str(clip))}", rows[0]), rows[0]
    assert TOKEN not in log
    assert "Traceback" not in log, log
