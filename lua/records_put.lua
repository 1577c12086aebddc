#!lua
--[[ records_put — writes a record only if its version is the expected one.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the record, a hash (<prefix>:rec:<key>): `v` the value, `ver` the
         version; a tombstone (of a delete before revisions) keeps only `ver`
KEYS[3]  the revision: the highest version any record of the key's tag (or
         of the key, untagged) ever had (<prefix>:rev:…), never expiring
KEYS[4]  the change journal of the key's tag (<prefix>:jrn:…), a stream
         that exists only while someone turned it on (records_journal)
KEYS[5]  the fence's lease (lib/leases.lua); any key of the slot without one

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the journal's retention (lib/prelude.lua)
ARGV[4]  the expected version; 0: the record must not exist
ARGV[5]  the value
ARGV[6]  the fence's token, '' without a fence

Reply    {'written', new_version}
       | {'mismatch', actual}             absent (actual = 0) (nothing written)
       | {'mismatch', actual, value}      present (nothing written)
       | {'fenced', current token}        the fence's token is not a current
                                          grant (nothing written)
       | a prelude reply
A write bumps a live record's version by one; a record created (again)
continues past the revision, so versions of one key never repeat (no ABA),
however long ago it was deleted. A write appends {kind 'put', key,
version, value} to the journal when it is on: one EXISTS for tags nobody
watches.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
local trim = rmw_retention()
--@leases
local fenced = lease_fence(KEYS[5], ARGV[6])
if fenced then
  return fenced
end

local fields = redis.call('HMGET', KEYS[2], 'v', 'ver')
local actual = 0
if fields[1] then
  actual = tonumber(fields[2])
end
if actual ~= tonumber(ARGV[4]) then
  if fields[1] then
    return {'mismatch', actual, fields[1]}
  end
  return {'mismatch', actual}
end

local revision = tonumber(redis.call('GET', KEYS[3]) or '0')
local version
if fields[1] then
  version = actual + 1
else
  -- A tombstone's version counts too: it may predate the revision key.
  version = math.max(revision, tonumber(fields[2] or '0')) + 1
end
redis.call('HSET', KEYS[2], 'v', ARGV[5], 'ver', string.format('%d', version))
redis.call('PERSIST', KEYS[2])
if version > revision then
  redis.call('SET', KEYS[3], string.format('%d', version))
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  rmw_xadd(KEYS[4], trim, F.kind, 'put', F.key, rmw_record_key(KEYS[2]),
    F.version, string.format('%d', version), F.value, ARGV[5])
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'written', version})
