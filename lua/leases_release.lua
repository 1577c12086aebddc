#!lua
--[[ leases_release — ends a grant of a lease, and rings its waiters.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the lease, a hash (<prefix>:lse:<name>, lib/leases.lua)
KEYS[3]  the lease's releases, as leases_acquire reads them

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the grant's token

Reply    {'released'}
       | {'lost'}    the token is not a current grant (nothing written)
       | a prelude reply
A release adds an entry to the releases stream (which keeps only the
newest): a waiter blocked on it, on any instance of the service, tries
again at once.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
--@leases

local now = lease_now()
local grant = redis.call('HGET', KEYS[2], 'h:' .. ARGV[3])
if not grant then
  return {'lost'}
end
redis.call('HDEL', KEYS[2], 'h:' .. ARGV[3])
if tonumber(string.match(grant, '^(%d+) ')) <= now then
  return {'lost'}
end
redis.call('XADD', KEYS[3], 'MAXLEN', '1', '*', F.kind, 'release')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'released'})
