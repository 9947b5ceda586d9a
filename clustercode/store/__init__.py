"""The job store in Redis: keys, job records, queries, the event stream, the scanner's file cache,
the connection, and the embedded server.

Imports ``clustercode.models`` and ``clustercode.errors`` only; nothing above it.
"""

from __future__ import annotations

from clustercode.store.connection import RedisHandle, connect
from clustercode.store.embedded import EmbeddedRedis
from clustercode.store.history import FINISHED_STATES, FileRecord, History, JobRef

__all__ = [
    "FINISHED_STATES",
    "EmbeddedRedis",
    "FileRecord",
    "History",
    "JobRef",
    "RedisHandle",
    "connect",
]
