"""``python -m clustercode``: the same as the ``clustercode`` command."""

from __future__ import annotations

import sys

from clustercode.cli import main

sys.exit(main())
