"""The ``clustercode`` command: argument parsing, the subcommands, the live progress display.

The top layer: may import everything in ``clustercode``, nothing imports it.
"""

from __future__ import annotations

from clustercode.cli.main import main

__all__ = ["main"]
