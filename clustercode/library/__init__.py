"""The media library: walking the roots, file events, content fingerprints, media probing, and
confining request paths to the roots.

Imports ``clustercode.errors`` only.
"""

from __future__ import annotations

from clustercode.library.fingerprint import fingerprint
from clustercode.library.fswatch import LibraryWatcher
from clustercode.library.mediainfo import MediaError, MediaInfo, probe
from clustercode.library.paths import confine
from clustercode.library.scanner import ScanEntry, ScanStats, scan

__all__ = [
    "LibraryWatcher",
    "MediaError",
    "MediaInfo",
    "ScanEntry",
    "ScanStats",
    "confine",
    "fingerprint",
    "probe",
    "scan",
]
