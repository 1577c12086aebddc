#!lua flags=no-writes
--[[ inventory_get_stock — reads stock levels.

KEYS[1]      stock levels, a hash product -> units (<p>:inv:{<store>}:stock)

ARGV[1 .. N] products

Reply    {'levels', units, ...}   in request order; a product never stocked is 0
]]

local levels = redis.call('HMGET', KEYS[1], unpack(ARGV))
local reply = {'levels'}
for i = 1, #ARGV do
  reply[i + 1] = tonumber(levels[i] or '0')
end
return reply
