"""How History's values look in Redis: JSON codecs and page tokens.

Private to :mod:`clustercode.store.history`; kept apart so the store reads as Redis operations.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from clustercode.errors import ClustercodeError, InvalidArgumentError
from clustercode.models import Job, JobEvent, SliceProgress

_JOB: TypeAdapter[Job] = TypeAdapter(Job)
_SLICE: TypeAdapter[SliceProgress] = TypeAdapter(SliceProgress)
_STREAM_ID = re.compile(r"^\d+(?:-\d+)?$")


def encode_job(job: Job) -> str:
    """Return the stored JSON of a job."""
    return _JOB.dump_json(job).decode()


def decode_job(raw: str, job_id: str) -> Job:
    """Return the job stored as ``raw``.

    Raises:
        ClustercodeError: the record is not a job (written by something else, or corrupted).
    """
    try:
        return _JOB.validate_json(raw)
    except ValidationError as exc:
        raise ClustercodeError(
            f"job {job_id}: the stored record is unreadable ({exc.error_count()} errors); "
            f"delete it with 'clustercode history delete {job_id}'"
        ) from None


def index_entry(job: Job) -> str:
    """Return the fingerprint index value of a job: ``"{id} {state}"``."""
    return f"{job.id} {job.state.value}"


def index_entry_id(entry: str) -> str:
    """Return the job id of a fingerprint index value."""
    return entry.partition(" ")[0]


def encode_slice(progress: SliceProgress) -> str:
    """Return the stored JSON of a slice."""
    return _SLICE.dump_json(progress).decode()


def decode_slice(raw: str) -> SliceProgress:
    """Return the slice stored as ``raw``."""
    return _SLICE.validate_json(raw)


def event_fields(
    kind: str,
    job: Job,
    time: float,
    *,
    progress: SliceProgress | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Return the fields of a stream entry for an event."""
    fields = {"kind": kind, "job_id": job.id, "job": encode_job(job), "time": repr(time)}
    if progress is not None:
        fields["slice"] = encode_slice(progress)
    if extra:
        fields["extra"] = json.dumps(extra, separators=(",", ":"))
    return fields


def decode_event(event_id: str, fields: dict[str, str]) -> JobEvent:
    """Return the event of a stream entry."""
    job_id = fields.get("job_id", "")
    raw_slice = fields.get("slice")
    return JobEvent(
        id=event_id,
        job_id=job_id,
        kind=fields.get("kind", ""),
        job=decode_job(fields.get("job", ""), job_id),
        slice=decode_slice(raw_slice) if raw_slice else None,
        time=float(fields.get("time", "0")),
        extra=json.loads(fields["extra"]) if "extra" in fields else {},
    )


def check_event_id(event_id: str, field: str) -> str:
    """Return ``event_id`` if it is ``$`` or a stream id.

    Raises:
        InvalidArgumentError: it is neither.
    """
    if event_id == "$" or _STREAM_ID.match(event_id):
        return event_id
    raise InvalidArgumentError(
        field, f"{event_id!r} is not an event id (like '1700000000000-0'; '0' for the oldest)"
    )


def encode_page_token(scope: str, score: str, member: str) -> str:
    """Return an opaque token for the page after ``member`` (at ``score``) in ``scope``."""
    raw = json.dumps([scope, score, member], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, scope: str) -> tuple[str, str]:
    """Return the (score, member) cursor of a page token issued for ``scope``.

    Raises:
        InvalidArgumentError: the token is malformed or was issued for another listing.
    """
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data: Any = json.loads(raw)
        token_scope, score, member = data
        float(score)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidArgumentError(
            "page_token", "is not a token returned by a previous list call"
        ) from None
    if not (isinstance(token_scope, str) and isinstance(score, str) and isinstance(member, str)):
        raise InvalidArgumentError("page_token", "is not a token returned by a previous list call")
    if token_scope != scope:
        raise InvalidArgumentError(
            "page_token", "was returned for a different state filter; list again from the start"
        )
    return score, member
