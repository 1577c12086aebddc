#!lua
--[[ inventory_set_stock — sets absolute stock levels (an admin correction, a stock take).

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4 .. 3+N]   each product's movements stream (<p>:inv:{<store>}:moves:<product>),
                 in request order

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4 .. 3+2N]  per product: product, units (0 .. 2^53-1); products distinct

Reply    {'set', {product, before, after}, ...}   in request order
       | a prelude reply
Each product gets a movement of kind 'set' with delta = after - before.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local trim = rmw_retention()

local reply = {'set'}
local n = (#ARGV - 3) / 2
for i = 1, n do
  local product, units = ARGV[2 + 2 * i], ARGV[3 + 2 * i]
  local before = tonumber(redis.call('HGET', KEYS[2], product) or '0')
  local after = tonumber(units)
  redis.call('HSET', KEYS[2], product, units)
  local id = rmw_xadd(KEYS[3], trim,
    F.kind, 'set', F.product, product, F.delta, after - before, F.before, before,
    F.after, after, F.order, '')
  rmw_xadd(KEYS[3 + i], trim,
    F.id, id, F.kind, 'set', F.product, product, F.delta, after - before, F.before, before,
    F.after, after, F.order, '')
  reply[#reply + 1] = {product, before, after}
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
