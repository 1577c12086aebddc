#!lua
--[[ inventory_restock — adds stock to one product.

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4]          the product's movements stream (<p>:inv:{<store>}:moves:<product>)

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          the product
ARGV[5]          units to add, 1 .. 2^53-1

Reply    {'restocked', before, after}
       | {'overflow', level}    the level would pass 2^53-1 (nothing written)
       | a prelude reply
]]

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local trim = rmw_retention()

local product, units = ARGV[4], tonumber(ARGV[5])
local before = tonumber(redis.call('HGET', KEYS[2], product) or '0')
-- Compared, never summed first: a sum past 2^53 would be rounded.
if before > MAX - units then
  return {'overflow', before}
end
local after = redis.call('HINCRBY', KEYS[2], product, ARGV[5])
local id = rmw_xadd(KEYS[3], trim,
  F.kind, 'restock', F.product, product, F.delta, units, F.before, before, F.after, after,
  F.order, '')
rmw_xadd(KEYS[4], trim,
  F.id, id, F.kind, 'restock', F.product, product, F.delta, units, F.before, before,
  F.after, after, F.order, '')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'restocked', before, after})
