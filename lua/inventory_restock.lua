#!lua
--[[ inventory_restock — adds stock to one product.

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[5]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)
KEYS[6]          the product's movements stream (<p>:inv:{<store>}:moves:<product>)

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal, recorded in the movements ('' without one)
ARGV[6]          the product
ARGV[7]          units to add, 1 .. 2^53-1

Reply    {'restocked', before, after}
       | {'overflow', level}    the level would pass 2^53-1 (nothing written
                                but due holds' expiry)
       | a prelude reply
]]
--@holds

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local s = holds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], rmw_retention(), ARGV[4], ARGV[5])
local _, stale = holds_settle(s)

local product, units = ARGV[6], tonumber(ARGV[7])
local level = holds_levels(s, stale, {product})[1]
local before = level[1]
-- Compared, never summed first: a sum past 2^53 would be rounded.
if before > MAX - units then
  return {'overflow', before}
end
local after = redis.call('HINCRBY', KEYS[2], product, ARGV[7])
holds_move(s, 'restock', product, units, before, after, 0, level[3], '')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'restocked', before, after})
