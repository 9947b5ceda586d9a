"""The Lua scripts History runs inside Redis: each a read that must see one consistent state
(a page of jobs, a job with its slices, index look-ups, the scanner's path cache and its
one-call check of a batch of files).

Private to :mod:`clustercode.store`; registered once per client in :mod:`._base`.
"""

from __future__ import annotations

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

LOOKUP_SCRIPT = """
-- What a scan needs to know of many files, in one round trip and one string, so that the client
-- neither sends thousands of arguments nor decodes thousands of records.
-- KEYS[1] the path cache hash. ARGV[1] fingerprint index key prefix; ARGV[2] the paths joined by
-- NUL bytes; ARGV[3] per path "size mtime_ns ino profile_hash", joined by newlines.
-- Returns per path, joined by newlines: '' when the cached record is missing or stale, '?' when
-- it is not in the compact form this script reads, else the fingerprint followed by " id state"
-- when the content has a job under that profile hash.
local paths, stamps = {}, {}
local start = 1
while true do
  local stop = string.find(ARGV[2], '\\0', start, true)
  if not stop then
    paths[#paths + 1] = string.sub(ARGV[2], start)
    break
  end
  paths[#paths + 1] = string.sub(ARGV[2], start, stop - 1)
  start = stop + 1
end
for line in string.gmatch(ARGV[3], '[^\\n]+') do
  stamps[#stamps + 1] = line
end
local out = {}
local records = redis.call('HMGET', KEYS[1], unpack(paths))
for i = 1, #paths do
  local raw = records[i]
  if not raw then
    out[i] = ''
  else
    local size, mtime, ino, fp = string.match(raw,
      '^{"size":(%d+),"mtime_ns":(%-?%d+),"ino":(%d+),"fingerprint":"([^"\\\\]*)"}$')
    if not size then
      out[i] = '?'
    else
      local want_size, want_mtime, want_ino, profile_hash =
        string.match(stamps[i], '^(%S+) (%S+) (%S+) (%S+)$')
      if size ~= want_size or mtime ~= want_mtime or ino ~= want_ino then
        out[i] = ''
      else
        local entry = redis.call('HGET', ARGV[1] .. fp, profile_hash)
        out[i] = entry and (fp .. ' ' .. entry) or fp
      end
    end
  end
end
return table.concat(out, '\\n')
"""
