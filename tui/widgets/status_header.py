"""The top line: server version, executor and Redis health, queue depth, active jobs, the
scheduler's pause, scan."""

from __future__ import annotations

import time

from textual.content import Content
from textual.widgets import Static

from clustercode.api.v1 import service_pb2
from tui.display import scan_progress, scheduler_pause

__all__ = ["StatusHeader"]


class StatusHeader(Static):
    """Shows the last GetStatus answer, or that the server cannot be reached."""

    def __init__(self, address: str, *, id: str | None = None) -> None:
        """Start as "connecting to ADDRESS"."""
        super().__init__(id=id)
        self.address = address
        self.show_connecting()

    def show_connecting(self) -> None:
        """Nothing heard from the server yet."""
        self.set_class(False, "-disconnected")
        self.set_class(False, "-paused")
        self._show(f"clustercode @ {self.address}  |  connecting...")

    def show_status(self, status: service_pb2.GetStatusResponse) -> None:
        """Show versions, health, counts, the pause and the scan from one GetStatus answer."""
        self.set_class(False, "-disconnected")
        paused = status.HasField("pause")
        self.set_class(paused, "-paused")
        executor = f"{status.executor or '?'} " + _health(
            status.executor_healthy, status.executor_message
        )
        redis = _health(status.redis_healthy, status.redis_message)
        pause = f"  |  {scheduler_pause(status.pause, time.time())}" if paused else ""
        scan = f"  |  {scan_progress(status.scan)}" if status.HasField("scan") else ""
        self._show(
            f"clustercode {status.version} @ {self.address}  |  executor {executor}  |  "
            f"redis {redis}  |  queued {status.queue_depth}  |  active {status.active_jobs}"
            + pause
            + scan
        )

    def show_disconnected(self, reason: str) -> None:
        """The server went away or never answered; the screen keeps retrying."""
        self.set_class(True, "-disconnected")
        self.set_class(False, "-paused")
        self._show(f"clustercode @ {self.address}  |  disconnected, retrying  |  {reason}")

    def show_refused(self, reason: str) -> None:
        """The server answers but refuses the TUI's calls (a token problem)."""
        self.set_class(True, "-disconnected")
        self.set_class(False, "-paused")
        self._show(f"clustercode @ {self.address}  |  {reason}")

    @property
    def text(self) -> str:
        """The line as shown, without styles."""
        return str(self.content)

    def _show(self, line: str) -> None:
        # Content(...) is plain text: server messages may hold square brackets.
        self.update(Content(line))


def _health(healthy: bool, message: str) -> str:
    if healthy:
        return "ok"
    return f"DOWN ({message})" if message else "DOWN"
