#!lua
--[[ leases_acquire — grants a lease (a lock, or a place of a semaphore) with a fencing token.

KEYS[1]  idempotency record (lib/prelude.lua)
KEYS[2]  the lease, a hash (<prefix>:lse:<name>, lib/leases.lua)
KEYS[3]  the lease's releases (<prefix>:lsev:…), a stream of one entry
         that the waiters' doorbells block on

ARGV[1]  request fingerprint, '' without a request id
ARGV[2]  idempotency record TTL, milliseconds
ARGV[3]  the owner
ARGV[4]  the grant's time to live, milliseconds
ARGV[5]  the limit: how many grants may be current at once, at least 1

Reply    {'acquired', token, expires at (ms)}
       | {'held', wait ms, last release id, token, expires at, owner, ...}
                 every place is taken (nothing granted): how long until
                 the soonest grant expires, the releases stream's newest
                 id ('0-0' if none) to wait on, and the current grants
       | a prelude reply
A token is one past the name's last, or Redis's clock in milliseconds times
1,024 if that is more: strictly increasing per name, and ahead of a grant
that a failover lost with its primary as long as the new primary's clock
is not behind the lost grant's time.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
--@leases
local ttl = rmw_setting('lease ttl', ARGV[4], 1, RMW_MAX_TTL_MS)
local limit = rmw_setting('lease limit', ARGV[5], 1, 1000000)

local now = lease_now()
local grants = lease_grants(KEYS[2], now, true)
if #grants >= limit then
  local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  local last_id = '0-0'
  if last[1] then
    last_id = last[1][1]
  end
  local reply = {'held', string.format('%d', grants[1][2] - now), last_id}
  for _, field in ipairs(lease_flat(grants)) do
    reply[#reply + 1] = field
  end
  return reply
end

local token = math.max(tonumber(redis.call('HGET', KEYS[2], 'last') or '0') + 1, now * 1024)
token = string.format('%d', token)
local expires = string.format('%d', now + ttl)
redis.call('HSET', KEYS[2], 'last', token, 'h:' .. token, expires .. ' ' .. ARGV[3])
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'acquired', token, expires})
