#!lua
--[[ values_cas — sets or deletes a value only if it holds what the caller expects.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the value (<prefix>:val:<key>)
KEYS[3]  the fence's lease (lib/leases.lua); any key of the slot without one

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  '1': the value must equal ARGV[4]; '0': the key must not exist
ARGV[4]  the expected value (unused when ARGV[3] is '0')
ARGV[5]  '1': set the value to ARGV[6]; '0': delete the key
ARGV[6]  the new value (unused when ARGV[5] is '0')
ARGV[7]  the fence's token, '' without a fence

Reply    {'swapped'}
       | {'conflict'}           the key does not exist (nothing written)
       | {'conflict', current}  the key holds another value (nothing written)
       | {'fenced', current token}  the fence's token is not a current grant
                                    (nothing written)
       | a prelude reply
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
--@leases
local fenced = lease_fence(KEYS[3], ARGV[7])
if fenced then
  return fenced
end

local current = redis.call('GET', KEYS[2])
local matches
if ARGV[3] == '1' then
  matches = current == ARGV[4]
else
  matches = current == false
end

if not matches then
  if current then
    return {'conflict', current}
  end
  return {'conflict'}
end

if ARGV[5] == '1' then
  redis.call('SET', KEYS[2], ARGV[6])
else
  redis.call('DEL', KEYS[2])
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'swapped'})
