#!lua
--[[ leases_get — reads a lease's current grants.

KEYS[1]  the lease, a hash (<prefix>:lse:<name>, lib/leases.lua)

Reply    {'lease', last token ('0': never granted), token, expires at, owner, ...}
         the grants current by Redis's clock, soonest to expire first
]]

--@leases
local reply = {'lease', redis.call('HGET', KEYS[1], 'last') or '0'}
for _, field in ipairs(lease_flat(lease_grants(KEYS[1], lease_now(), false))) do
  reply[#reply + 1] = field
end
return reply
