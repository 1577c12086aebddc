#!lua flags=no-writes
--[[ inventory_order_items — reads which products an order took, so that
CancelOrder can declare their movements streams as keys.

KEYS[1]  the order (<p>:inv:{<store>}:order:<order id>), as inventory_place_order
         (or inventory_commit_hold) recorded it

Reply    {'items', product, ...}   in item order
       | {'not_found'}             never placed, refused, or expired; or a
                                   hold never committed
]]

local stored = redis.call('GET', KEYS[1])
if not stored then
  return {'not_found'}
end
local record = cmsgpack.unpack(stored)
local placed = record[2]
if record[4] then
  if record[3] ~= 'committed' and record[3] ~= 'cancelled' then
    return {'not_found'}
  end
  placed = record[7]
end
local reply = {'items'}
for i = 2, #placed do
  reply[i] = placed[i][1]
end
return reply
