#!lua
--[[ inventory_cancel_order — puts back what an order took, once.

KEYS[1]          idempotency record of the cancel request (lib/prelude.lua)
KEYS[2]          the order (<p>:inv:{<store>}:order:<order id>)
KEYS[3]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[4]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[5 .. 4+N]   each item's product movements stream, in item order

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          the order id, recorded in the movements
ARGV[5 .. 4+N]   the order's products, in item order, as inventory_order_items
                 read them (the keys above were built from them)

Reply    {'cancelled', {product, before, after}, ...}   in item order
       | {'not_found'}                 no such order (nothing written)
       | {'already_cancelled'}         (nothing written)
       | {'stale'}                     the order is not the one whose products
                                       were read: read again (nothing written)
       | {'overflow', product, level}  putting back would pass 2^53-1
                                       (nothing written)
       | a prelude reply
The order keeps its record, marked cancelled, until it expires.
]]

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local trim = rmw_retention()

local stored = redis.call('GET', KEYS[2])
if not stored then
  return {'not_found'}
end
local record = cmsgpack.unpack(stored)
if record[3] == 'cancelled' then
  return {'already_cancelled'}
end

local placed = record[2]
local n = #placed - 1
if n ~= #ARGV - 4 then
  return {'stale'}
end
local products, units = {}, {}
for i = 1, n do
  local item = placed[i + 1]
  if item[1] ~= ARGV[4 + i] then
    return {'stale'}
  end
  products[i] = item[1]
  units[i] = item[2] - item[3]
end

local levels = redis.call('HMGET', KEYS[3], unpack(products))
for i = 1, n do
  local level = tonumber(levels[i] or '0')
  if level > MAX - units[i] then
    return {'overflow', products[i], level}
  end
end

local reply = {'cancelled'}
for i = 1, n do
  local before = tonumber(levels[i] or '0')
  local after = redis.call('HINCRBY', KEYS[3], products[i], units[i])
  local id = rmw_xadd(KEYS[4], trim,
    F.kind, 'cancel', F.product, products[i], F.delta, units[i], F.before, before,
    F.after, after, F.order, ARGV[4])
  rmw_xadd(KEYS[4 + i], trim,
    F.id, id, F.kind, 'cancel', F.product, products[i], F.delta, units[i], F.before, before,
    F.after, after,
    F.order, ARGV[4])
  reply[#reply + 1] = {products[i], before, after}
end
record[3] = 'cancelled'
redis.call('SET', KEYS[2], cmsgpack.pack(record), 'KEEPTTL')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
