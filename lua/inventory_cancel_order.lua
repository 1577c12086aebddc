#!lua
--[[ inventory_cancel_order — puts back what an order (or a committed hold)
took, once.

KEYS[1]          idempotency record of the cancel request (lib/prelude.lua)
KEYS[2]          the order (<p>:inv:{<store>}:order:<order id>)
KEYS[3]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[4]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[5]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[6]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)
KEYS[7 .. 6+N]   each item's product movements stream, in item order

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal, recorded in the movements ('' without one)
ARGV[6]          the order id, recorded in the movements
ARGV[7 .. 6+N]   the order's products, in item order, as inventory_order_items
                 read them (the keys above were built from them)

Reply    {'cancelled', {product, before, after}, ...}   in item order
       | {'not_found'}                 no such order, or a hold never
                                       committed (nothing written)
       | {'already_cancelled'}         (nothing written)
       | {'stale'}                     the order is not the one whose products
                                       were read: read again (nothing written)
       | {'overflow', product, level}  putting back would pass 2^53-1
                                       (nothing written)
       | a prelude reply
The order keeps its record, marked cancelled, until it expires. Replies
that write nothing may still have ended due holds (lib/holds.lua).
]]
--@holds

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local s = holds_open(KEYS[3], KEYS[4], KEYS[5], KEYS[6], rmw_retention(), ARGV[4], ARGV[5])
local _, stale = holds_settle(s)

local stored = redis.call('GET', KEYS[2])
if not stored then
  return {'not_found'}
end
local record = cmsgpack.unpack(stored)
if record[3] == 'cancelled' then
  return {'already_cancelled'}
end
local placed = record[2]
if record[4] then
  -- A hold: an order once committed.
  if record[3] ~= 'committed' then
    return {'not_found'}
  end
  placed = record[7]
end

local n = #placed - 1
if n ~= #ARGV - 6 then
  return {'stale'}
end
local products, units = {}, {}
for i = 1, n do
  local item = placed[i + 1]
  if item[1] ~= ARGV[6 + i] then
    return {'stale'}
  end
  products[i] = item[1]
  units[i] = item[2] - item[3]
end

local levels = holds_levels(s, stale, products)
for i = 1, n do
  if levels[i][1] > MAX - units[i] then
    return {'overflow', products[i], levels[i][1]}
  end
end

local reply = {'cancelled'}
for i = 1, n do
  local before = levels[i][1]
  local after = redis.call('HINCRBY', KEYS[3], products[i], units[i])
  holds_move(s, 'cancel', products[i], units[i], before, after, 0, levels[i][3], ARGV[6])
  reply[#reply + 1] = {products[i], before, after}
end
record[3] = 'cancelled'
redis.call('SET', KEYS[2], cmsgpack.pack(record), 'KEEPTTL')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
