#!lua
--[[ inventory_set_stock — sets absolute stock levels (an admin correction, a stock take).

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[5]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)
KEYS[6 .. 5+N]   each product's movements stream (<p>:inv:{<store>}:moves:<product>),
                 in request order

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal, recorded in the movements ('' without one)
ARGV[6 .. 5+2N]  per product: product, units (0 .. 2^53-1); products distinct

Reply    {'set', {product, before, after}, ...}   in request order
       | {'below_held', product, held, requested}
                 the first product whose new level is below what holds
                 hold of it (nothing written but due holds' expiry)
       | a prelude reply
Each product gets a movement of kind 'set' with delta = after - before.
]]
--@holds

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local s = holds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], rmw_retention(), ARGV[4], ARGV[5])
local _, stale = holds_settle(s)

local n = (#ARGV - 5) / 2
local products, units = {}, {}
for i = 1, n do
  products[i] = ARGV[4 + 2 * i]
  units[i] = tonumber(ARGV[5 + 2 * i])
end

local levels = holds_levels(s, stale, products)
for i = 1, n do
  if units[i] < levels[i][2] then
    return {'below_held', products[i], levels[i][2], units[i]}
  end
end

local reply = {'set'}
for i = 1, n do
  local before, after = levels[i][1], units[i]
  redis.call('HSET', KEYS[2], products[i], ARGV[5 + 2 * i])
  holds_move(s, 'set', products[i], after - before, before, after, 0, levels[i][3], '')
  reply[#reply + 1] = {products[i], before, after}
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
