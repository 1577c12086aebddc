#!lua
--[[ leases_renew — extends a current grant of a lease.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the lease, a hash (<prefix>:lse:<name>, lib/leases.lua)

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the grant's token
ARGV[4]  the new time to live from now, milliseconds

Reply    {'renewed', expires at (ms), owner}
       | {'lost'}    the token is not a current grant (nothing written)
       | a prelude reply
An expired grant stays expired: a holder that renews too late has lost
its place and acquires again, for a new token.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
--@leases
local ttl = rmw_setting('lease ttl', ARGV[4], 1, RMW_MAX_TTL_MS)

local now = lease_now()
local grant = redis.call('HGET', KEYS[2], 'h:' .. ARGV[3])
if not grant then
  return {'lost'}
end
local expires, owner = string.match(grant, '^(%d+) (.*)$')
if tonumber(expires) <= now then
  redis.call('HDEL', KEYS[2], 'h:' .. ARGV[3])
  return {'lost'}
end
expires = string.format('%d', now + ttl)
redis.call('HSET', KEYS[2], 'h:' .. ARGV[3], expires .. ' ' .. owner)
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'renewed', expires, owner})
