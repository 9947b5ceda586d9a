"""The Textual application: one client, one screen, quit on q."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from tui.client import ApiClient
from tui.screens import JobsScreen
from tui.settings import Settings

__all__ = ["ClustercodeApp"]


class ClustercodeApp(App[None]):
    """The clustercode TUI; everything it shows comes from the gRPC API."""

    TITLE = "clustercode"
    CSS_PATH = "app.tcss"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, settings: Settings) -> None:
        """Talk to the server ``settings`` names; nothing connects before the app runs."""
        super().__init__()
        self.settings = settings
        self.client = ApiClient(settings)

    def on_mount(self) -> None:
        """Show the jobs screen."""
        # Pushed rather than returned by get_default_screen: Textual loads a screen's
        # CSS_PATH only for screens it pushes.
        self.push_screen(JobsScreen(self.client))

    async def on_unmount(self) -> None:
        """Close the channel."""
        await self.client.close()
