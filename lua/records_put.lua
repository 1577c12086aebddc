#!lua
--[[ records_put — writes a record only if its version is the expected one.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the record, a hash (<prefix>:rec:<key>): `v` the value, `ver` the
         version; a tombstone (of a delete before revisions) keeps only `ver`
KEYS[3]  the revision: the highest version any record of the key's tag (or
         of the key, untagged) ever had (<prefix>:rev:…), never expiring

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the expected version; 0: the record must not exist
ARGV[4]  the value

Reply    {'written', new_version}
       | {'mismatch', actual}             absent (actual = 0) (nothing written)
       | {'mismatch', actual, value}      present (nothing written)
       | a prelude reply
A write bumps a live record's version by one; a record created (again)
continues past the revision, so versions of one key never repeat (no ABA),
however long ago it was deleted.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local fields = redis.call('HMGET', KEYS[2], 'v', 'ver')
local actual = 0
if fields[1] then
  actual = tonumber(fields[2])
end
if actual ~= tonumber(ARGV[3]) then
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
redis.call('HSET', KEYS[2], 'v', ARGV[4], 'ver', string.format('%d', version))
redis.call('PERSIST', KEYS[2])
if version > revision then
  redis.call('SET', KEYS[3], string.format('%d', version))
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'written', version})
