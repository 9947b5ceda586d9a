"""The screens: the jobs screen (everything the TUI shows) and the confirmation dialog."""

from __future__ import annotations

from tui.screens.confirm import ConfirmScreen
from tui.screens.jobs import JobsScreen

__all__ = ["ConfirmScreen", "JobsScreen"]
