#!lua
--[[ inventory_hold_stock — holds units of one or more products until a
commit, a release or the expiry, all or nothing, from what is available.

KEYS[1]          the hold (<p>:inv:{<store>}:order:<hold id>): its idempotency
                 record and its state (lib/holds.lua)
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[5]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)
KEYS[6]          the fence's lease (lib/leases.lua); any key of the slot without one
KEYS[7 .. 6+N]   each item's product movements stream, in item order

ARGV[1], ARGV[2] request fingerprint (never '': the hold id is required),
                 idempotency record TTL (ms): how long an ended hold's
                 record lives
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal, recorded in the movements ('' without one)
ARGV[6]          the hold id, recorded in the movements
ARGV[7]          how long the hold lasts, ms (1 .. ten years)
ARGV[8]          the fence's token, '' without a fence
ARGV[9 .. 8+2N]  per item: product, units (1 .. 2^53-1); products distinct

Reply    {'held', expires_at, {product, on_hand, held}, ...}
                 expires_at in ms of Redis's clock; levels after, in item order
       | {'insufficient', product, available, requested}
                 the first short item, in item order (nothing written but
                 due holds' expiry)
       | {'fenced', current token}  the fence's token is not a current grant
                 (nothing written)
       | a prelude reply (a repeat of the hold, or its id reused, by an
                 order too)
]]
--@holds
--@leases

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local s = holds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], rmw_retention(), ARGV[4], ARGV[5])
local ttl = rmw_setting('hold ttl', ARGV[7], 1, RMW_MAX_TTL_MS)
-- Settings checked, nothing written yet: a stale fence writes nothing.
local fenced = lease_fence(KEYS[6], ARGV[8])
if fenced then
  return fenced
end
local _, stale = holds_settle(s)

local n = (#ARGV - 8) / 2
local products, units = {}, {}
for i = 1, n do
  products[i] = ARGV[7 + 2 * i]
  units[i] = tonumber(ARGV[8 + 2 * i])
end

local levels = holds_levels(s, stale, products)
for i = 1, n do
  local available = levels[i][1] - levels[i][2]
  if available < units[i] then
    return {'insufficient', products[i], available, units[i]}
  end
end

local expires = holds_now(s) + ttl
local reply, items = {'held', expires}, {}
for i = 1, n do
  local on_hand, held = levels[i][1], levels[i][2] + units[i]
  local recorded = redis.call('HINCRBY', KEYS[4], products[i], units[i])
  holds_move(s, 'hold', products[i], 0, on_hand, on_hand, units[i], recorded, ARGV[6])
  items[i] = {products[i], units[i]}
  reply[i + 2] = {products[i], on_hand, held}
end
redis.call('ZADD', KEYS[5], expires, ARGV[6])
holds_save(s, ARGV[6], {ARGV[1], reply, 'held', expires, items, 0, {}}, false)
return reply
