#!lua
--[[ inventory_place_order — takes stock of one or more products for an order,
all or nothing (Deduct and PlaceOrder), from what is available (on hand
minus held).

KEYS[1]          the order (<p>:inv:{<store>}:order:<order id>): its idempotency
                 record (lib/prelude.lua), which CancelOrder reads back
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[5]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)
KEYS[6 .. 5+N]   each item's product movements stream, in item order

ARGV[1], ARGV[2] request fingerprint (never '': the order id is required),
                 idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal, recorded in the movements ('' without one)
ARGV[6]          the order id, recorded in the movements
ARGV[7 .. 6+2N]  per item: product, units (1 .. 2^53-1); products distinct

Reply    {'placed', {product, before, after}, ...}    in item order
       | {'insufficient', product, available, requested}
                 the first short item, in item order (nothing written but
                 due holds' expiry)
       | {'replayed', {'cancelled'}}
                 a repeat of an order CancelOrder has cancelled since: the
                 stock it took was put back (nothing written)
       | a prelude reply (a repeat of the order, or its id reused)
]]
--@holds

local replay, record = rmw_replay(KEYS[1], ARGV[1])
if replay then
  if record and record[3] == 'cancelled' then
    return {'replayed', {'cancelled'}}
  end
  return replay
end

local s = holds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], rmw_retention(), ARGV[4], ARGV[5])
local _, stale = holds_settle(s)

local n = (#ARGV - 6) / 2
local products, units = {}, {}
for i = 1, n do
  products[i] = ARGV[5 + 2 * i]
  units[i] = tonumber(ARGV[6 + 2 * i])
end

local levels = holds_levels(s, stale, products)
for i = 1, n do
  local available = levels[i][1] - levels[i][2]
  if available < units[i] then
    return {'insufficient', products[i], available, units[i]}
  end
end

local reply = {'placed'}
for i = 1, n do
  local before = levels[i][1]
  local after = redis.call('HINCRBY', KEYS[2], products[i], -units[i])
  holds_move(s, 'deduct', products[i], -units[i], before, after, 0, levels[i][3], ARGV[6])
  reply[#reply + 1] = {products[i], before, after}
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
