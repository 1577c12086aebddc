#!lua flags=no-writes
--[[ inventory_order_items — reads which products an order took, so that
CancelOrder can declare their movements streams as keys.

KEYS[1]  the order (<p>:inv:{<store>}:order:<order id>), as inventory_place_order
         recorded it

Reply    {'items', product, ...}   in item order
       | {'not_found'}             never placed, refused, or expired
]]

local stored = redis.call('GET', KEYS[1])
if not stored then
  return {'not_found'}
end
local placed = cmsgpack.unpack(stored)[2]
local reply = {'items'}
for i = 2, #placed do
  reply[i] = placed[i][1]
end
return reply
