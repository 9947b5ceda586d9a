"""Every Redis key clustercode uses, in one place, under the prefix ``clustercode:``.

Nothing else in clustercode spells a key: other modules call these builders, so a reader can see
the whole data layout here and a flush of one prefix removes everything clustercode stored.

Layout:
    ``clustercode:job:{id}``
        string: the job record as JSON (a :class:`clustercode.models.Job`).
    ``clustercode:jobs``
        sorted set of every job id, scored by ``created_at`` (listing without a state filter).
    ``clustercode:state:{state}``
        sorted set of the job ids in one state. ``queued`` is scored by :func:`queued_score`, so
        ``ZRANGE`` yields the next job to run first; every other state is scored by the time the
        job entered it.
    ``clustercode:history``
        sorted set of the finished job ids (succeeded, failed, cancelled, parked) scored by
        ``finished_at``.
    ``clustercode:fp:{fingerprint}``
        hash: profile hash -> ``"{job_id} {state}"``. A file's content under one profile maps to
        at most one job, so a renamed file is recognised and a finished file is never redone.
        The state is kept here too (written in the same transaction as the record) so that a
        scan of 100,000 files learns every decision from this index alone.
    ``clustercode:files``
        hash: absolute path -> JSON ``{size, mtime_ns, ino, fingerprint}``. The scanner re-hashes
        a file only when its size, mtime or inode changed.
    ``clustercode:slices:{job_id}``
        hash: slice index -> JSON :class:`clustercode.models.SliceProgress`.
    ``clustercode:lease``
        string: JSON ``{id, host, pid, since}`` of the one control service that may run jobs on
        this store, with a time to live that its holder renews (see
        :mod:`clustercode.store.lease`).
    ``clustercode:outputs``
        hash: output path -> ``"{job_id} {source}"``, the job that publishes there; a second
        source that maps to the same output is refused when it is queued.
    ``clustercode:events``
        stream of job events (state changes, slice progress, deletions), capped near
        :data:`EVENTS_MAXLEN` entries; the gRPC watch calls read and resume from it.

Job ids are short random hex strings (see :func:`new_job_id`), not a counter: workflows in a
cluster are labelled with the job id and must never match a new job after Redis is wiped.
"""

from __future__ import annotations

import uuid

from clustercode.models import JobState

PREFIX = "clustercode:"
"""Every key starts with this."""

JOBS = f"{PREFIX}jobs"
"""Sorted set of all job ids by creation time."""

HISTORY = f"{PREFIX}history"
"""Sorted set of finished job ids by finish time."""

FILES = f"{PREFIX}files"
"""Hash: path -> JSON file record (the scanner's fingerprint cache)."""

LEASE = f"{PREFIX}lease"
"""String: the controller lease."""

OUTPUTS = f"{PREFIX}outputs"
"""Hash: output path -> the job that publishes there."""

EVENTS = f"{PREFIX}events"
"""Stream of job events."""

EVENTS_MAXLEN = 10_000
"""Approximate cap of the event stream (``XADD MAXLEN ~``): about a day of busy progress."""

QUEUED_PRIORITY_WEIGHT = 1e10
"""Score weight of one priority step in the queued set; larger than any unix time in seconds."""

JOB_ID_LENGTH = 12
"""Hex characters of a job id (48 random bits)."""


def job(job_id: str) -> str:
    """Return the key of a job record.

    Args:
        job_id: the job's id.
    """
    return f"{PREFIX}job:{job_id}"


def state(job_state: JobState) -> str:
    """Return the key of the sorted set holding the jobs in one state.

    Args:
        job_state: the state.
    """
    return f"{PREFIX}state:{job_state.value}"


def fingerprint(content_fingerprint: str) -> str:
    """Return the key of the hash mapping profile hashes to the job of one file content.

    Args:
        content_fingerprint: the file's content fingerprint.
    """
    return f"{PREFIX}fp:{content_fingerprint}"


def slices(job_id: str) -> str:
    """Return the key of the hash holding a job's slice progress.

    Args:
        job_id: the job's id.
    """
    return f"{PREFIX}slices:{job_id}"


def job_keys(job_id: str) -> list[str]:
    """Return the keys that belong to one job alone (deleted with it).

    Args:
        job_id: the job's id.
    """
    return [job(job_id), slices(job_id)]


def queued_score(priority: int, created_at: float) -> float:
    """Return the queued-set score: higher priority first, then oldest first.

    Args:
        priority: the job's priority (higher runs first).
        created_at: unix time the job was created.
    """
    return -priority * QUEUED_PRIORITY_WEIGHT + created_at


def new_job_id() -> str:
    """Return a new random job id."""
    return uuid.uuid4().hex[:JOB_ID_LENGTH]
