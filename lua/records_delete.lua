#!lua
--[[ records_delete — deletes a record only if its version is the expected one.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the record, a hash (<prefix>:rec:<key>): `v` the value, `ver` the
         version
KEYS[3]  the revision, as records_put keeps it
KEYS[4]  the change journal of the key's tag, as records_put appends to it
KEYS[5]  the fence's lease (lib/leases.lua); any key of the slot without one

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the journal's retention (lib/prelude.lua)
ARGV[4]  the expected version, at least 1
ARGV[5]  the fence's token, '' without a fence

Reply    {'deleted', version}
       | {'mismatch', actual}             absent (actual = 0) (nothing written)
       | {'mismatch', actual, value}      present (nothing written)
       | {'fenced', current token}        the fence's token is not a current
                                          grant (nothing written)
       | a prelude reply
The record goes; the revision keeps its version (it already does for a
record written since revisions), so a re-created record continues the
numbering for good. A delete appends {kind 'delete', key, version} to
the journal when it is on.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
local trim = rmw_retention()
--@leases
local fenced = lease_fence(KEYS[5], ARGV[5])
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

if actual > tonumber(redis.call('GET', KEYS[3]) or '0') then
  redis.call('SET', KEYS[3], string.format('%d', actual))
end
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[4]) == 1 then
  rmw_xadd(KEYS[4], trim, F.kind, 'delete', F.key, rmw_record_key(KEYS[2]),
    F.version, string.format('%d', actual))
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'deleted', actual})
