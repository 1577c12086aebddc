#!lua
--[[ inventory_place_order — takes stock of one or more products for an order,
all or nothing (Deduct and PlaceOrder).

KEYS[1]          the order (<p>:inv:{<store>}:order:<order id>): its idempotency
                 record (lib/prelude.lua), which CancelOrder reads back
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4 .. 3+N]   each item's product movements stream, in item order

ARGV[1], ARGV[2] request fingerprint (never '': the order id is required),
                 idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          the order id, recorded in the movements
ARGV[5 .. 4+2N]  per item: product, units (1 .. 2^53-1); products distinct

Reply    {'placed', {product, before, after}, ...}    in item order
       | {'insufficient', product, available, requested}
                 the first short item, in item order (nothing written)
       | {'replayed', {'cancelled'}}
                 a repeat of an order CancelOrder has cancelled since: the
                 stock it took was put back (nothing written)
       | a prelude reply (a repeat of the order, or its id reused)
]]

local replay, record = rmw_replay(KEYS[1], ARGV[1])
if replay then
  if record and record[3] == 'cancelled' then
    return {'replayed', {'cancelled'}}
  end
  return replay
end

local trim = rmw_retention()

local n = (#ARGV - 4) / 2
local products, units = {}, {}
for i = 1, n do
  products[i] = ARGV[3 + 2 * i]
  units[i] = tonumber(ARGV[4 + 2 * i])
end

local levels = redis.call('HMGET', KEYS[2], unpack(products))
for i = 1, n do
  local available = tonumber(levels[i] or '0')
  if available < units[i] then
    return {'insufficient', products[i], available, units[i]}
  end
end

local reply = {'placed'}
for i = 1, n do
  local before = tonumber(levels[i] or '0')
  local after = redis.call('HINCRBY', KEYS[2], products[i], -units[i])
  local id = rmw_xadd(KEYS[3], trim,
    F.kind, 'deduct', F.product, products[i], F.delta, -units[i], F.before, before,
    F.after, after, F.order, ARGV[4])
  rmw_xadd(KEYS[3 + i], trim,
    F.id, id, F.kind, 'deduct', F.product, products[i], F.delta, -units[i], F.before, before,
    F.after, after,
    F.order, ARGV[4])
  reply[#reply + 1] = {products[i], before, after}
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
