#!lua
--[[ records_put — writes a record only if its version is the expected one.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the record, a hash (<prefix>:rec:<key>): `v` the value, `ver` the
         version; a tombstone (a deleted record) keeps only `ver`

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the expected version; 0: the record must not exist
ARGV[4]  the value

Reply    {'written', new_version}
       | {'mismatch', actual}             absent (actual = 0) (nothing written)
       | {'mismatch', actual, value}      present (nothing written)
       | a prelude reply
A record created over a tombstone continues from the tombstone's version,
so versions of one key never repeat (no ABA).
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

redis.call('HSET', KEYS[2], 'v', ARGV[4])
local version = redis.call('HINCRBY', KEYS[2], 'ver', 1)
redis.call('PERSIST', KEYS[2])
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'written', version})
