"""The one error a step reports to its user."""

from __future__ import annotations


class StepError(Exception):
    """A step cannot do its work; the message says why and is shown to the user as is."""
