"""``clustercode config``: every setting with its environment variable, default and meaning."""

from __future__ import annotations

import argparse
import json
import textwrap
from dataclasses import asdict

from clustercode.cli.console import EXIT_OK
from clustercode.config.reference import settings_reference

__all__ = ["config"]


async def config(args: argparse.Namespace) -> int:
    """Print the settings reference: as text, or with ``--json`` one object per setting."""
    docs = settings_reference()
    if args.json:
        print(json.dumps([asdict(doc) for doc in docs], indent=2))
        return EXIT_OK
    for doc in docs:
        print(f"{doc.name}  ({doc.env}, default: {doc.default})")
        print(textwrap.indent(textwrap.fill(doc.description, 92), "    "))
    return EXIT_OK
