"""Helpers of the TUI tests: fast settings, a free port, waiting on the app, reading its notes."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual.pilot import Pilot

from tests.integration.server_double import ControlDouble
from tui.app import ClustercodeApp
from tui.settings import Settings

TOKEN = "tui-test-token-0123456789"
SIZE = (120, 36)


def settings_for(address: str, **changes: Any) -> Settings:
    """Settings with short intervals, so retries and refreshes happen within a test."""
    fast = Settings(
        address=address,
        token=TOKEN,
        timeout=3.0,
        status_every=0.2,
        reconnect_min=0.05,
        reconnect_max=0.3,
    )
    return replace(fast, **changes)


def free_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def until(
    pilot: Pilot[None], check: Callable[[], bool], what: str, within: float = 5.0
) -> None:
    """Let the app run until ``check()`` holds; fail naming ``what`` after ``within`` s."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await pilot.pause(0.02)


def notes(app: ClustercodeApp) -> list[str]:
    """The notifications on screen now, as ``title: message``."""
    # Textual keeps them in a private list; reading it here keeps that in one place.
    return [f"{note.title}: {note.message}" for note in app._notifications]


def toasts(app: ClustercodeApp) -> str:
    """The text of the notifications as drawn on the screen."""
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


def calls_of(control: ControlDouble, method: str) -> list[dict[str, Any]]:
    """Arguments of every call of ``method`` that reached the control plane."""
    return [args for name, args in control.calls if name == method]
