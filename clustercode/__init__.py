"""clustercode: transcode a media library across a cluster, or on this machine's cores."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
