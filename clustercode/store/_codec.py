"""How History's values look in Redis: JSON codecs, page tokens and the Lua scripts.

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


PAGE_SCRIPT = """
-- One page of a sorted set after a (score, member) cursor, with each member's job record.
-- KEYS[1] sorted set; ARGV[1] job key prefix; ARGV[2] 'desc' or 'asc'; ARGV[3] count;
-- ARGV[4] cursor score ('' for the first page); ARGV[5] cursor member.
-- Members tied on the cursor's score are ordered by member, as Redis orders them. Lua compares
-- strings with strcoll; job ids are lower-case hex, which collates in byte order everywhere.
local zset, prefix, desc, count = KEYS[1], ARGV[1], ARGV[2] == 'desc', tonumber(ARGV[3])
local items
if ARGV[4] == '' then
  if desc then
    items = redis.call('ZREVRANGE', zset, 0, count - 1, 'WITHSCORES')
  else
    items = redis.call('ZRANGE', zset, 0, count - 1, 'WITHSCORES')
  end
else
  local score, member, skip = ARGV[4], ARGV[5], 0
  if desc then
    for _, m in ipairs(redis.call('ZREVRANGEBYSCORE', zset, score, score)) do
      if m >= member then skip = skip + 1 end
    end
    items = redis.call('ZREVRANGEBYSCORE', zset, score, '-inf', 'WITHSCORES', 'LIMIT', skip, count)
  else
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', zset, score, score)) do
      if m <= member then skip = skip + 1 end
    end
    items = redis.call('ZRANGEBYSCORE', zset, score, '+inf', 'WITHSCORES', 'LIMIT', skip, count)
  end
end
local out = {}
for i = 1, #items, 2 do
  out[#out + 1] = items[i]
  out[#out + 1] = items[i + 1]
  out[#out + 1] = redis.call('GET', prefix .. items[i]) or ''
end
-- One string (stored JSON never holds a raw newline): one bulk reply parses much faster than
-- three per job.
return table.concat(out, '\\n')
"""

SLICE_SCRIPT = """
-- Store one slice's progress and, if asked, append a 'slice' event carrying the job record.
-- KEYS[1] job key; KEYS[2] slices key; KEYS[3] event stream.
-- ARGV[1] slice index; ARGV[2] slice JSON; ARGV[3] '1' to emit; ARGV[4] stream cap;
-- ARGV[5] job id; ARGV[6] event time. Returns the event id, '' if none, false if no such job.
local job = redis.call('GET', KEYS[1])
if not job then return false end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] ~= '1' then return '' end
return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'slice',
  'job_id', ARGV[5], 'job', job, 'slice', ARGV[2], 'time', ARGV[6])
"""

FIND_SCRIPT = """
-- Fingerprint index values of many (fingerprint, profile hash) pairs, in one string.
-- KEYS[i] fingerprint hash; ARGV[i] profile hash. Returns the values joined by newlines ('' for
-- a pair without a job): one bulk reply parses much faster than thousands of small ones.
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HGET', KEYS[i], ARGV[i]) or ''
end
return table.concat(out, '\\n')
"""

FIND_JOBS_SCRIPT = """
-- Job records of many (fingerprint, profile hash) pairs, joined by newlines ('' where none;
-- stored JSON never holds a raw newline). KEYS[i] fingerprint hash; ARGV[1] job key prefix;
-- ARGV[i + 1] profile hash.
local out = {}
for i = 1, #KEYS do
  local entry = redis.call('HGET', KEYS[i], ARGV[i + 1])
  local raw = entry and redis.call('GET', ARGV[1] .. string.match(entry, '^%S+'))
  out[i] = raw or ''
end
return table.concat(out, '\\n')
"""

FILES_SCRIPT = """
-- Values of many fields of one hash joined by newlines ('' where absent). KEYS[1] the hash;
-- ARGV the fields.
local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
for i = 1, #values do
  if not values[i] then values[i] = '' end
end
return table.concat(values, '\\n')
"""
