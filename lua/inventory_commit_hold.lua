#!lua
--[[ inventory_commit_hold — turns a hold into an order: the committed units
leave the stock (CancelOrder with the hold's id puts them back), the rest
of the hold goes back to available.

KEYS[1]          idempotency record of the commit request (lib/prelude.lua)
KEYS[2]          the hold (<p>:inv:{<store>}:order:<hold id>)
KEYS[3]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[4]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[5]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[6]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)
KEYS[7]          the fence's lease (lib/leases.lua); any key of the slot without one
KEYS[8 .. 7+N]   each of the hold's products' movements stream, in hold order

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal, recorded in the movements ('' without one)
ARGV[6]          the hold id
ARGV[7]          the fence's token, '' without a fence
ARGV[8 .. 7+2N]  per product of the hold, in hold order, as inventory_get_hold
                 read them: product, units to commit (0 .. held; 'all')

Reply    {'committed', {product, before, after, released}, ...}
                 in hold order: on hand before and after, units given back
       | {'not_found'}               no such hold (nothing written)
       | {'already_committed'}       (nothing written)
       | {'already_released'}        (nothing written)
       | {'expired', ended_at}       the hold expired (at ended_at, ms)
       | {'exceeds', product, held, requested}
                                     more than the hold holds (nothing written)
       | {'stale'}                   the hold is not the one whose products
                                     were read: read again (nothing written)
       | {'fenced', current token}  the fence's token is not a current grant
                 (nothing written)
       | a prelude reply
Replies that write nothing may still have ended due holds (lib/holds.lua),
this one included.
]]
--@holds
--@leases

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local s = holds_open(KEYS[3], KEYS[4], KEYS[5], KEYS[6], rmw_retention(), ARGV[4], ARGV[5])
-- Settings checked, nothing written yet: a stale fence writes nothing.
local fenced = lease_fence(KEYS[7], ARGV[7])
if fenced then
  return fenced
end
holds_settle(s)

local id = ARGV[6]
local record, ended = holds_active(s, id)
if not record then
  return ended
end

local items = record[5]
if #items ~= (#ARGV - 7) / 2 then
  return {'stale'}
end
local commit = {}
for i, item in ipairs(items) do
  if item[1] ~= ARGV[6 + 2 * i] then
    return {'stale'}
  end
  local asked = ARGV[7 + 2 * i]
  commit[i] = asked == 'all' and item[2] or tonumber(asked)
  if commit[i] > item[2] then
    return {'exceeds', item[1], item[2], commit[i]}
  end
end

local reply, placed = {'committed'}, {'placed'}
for i, item in ipairs(items) do
  local product, units = item[1], item[2]
  local left = holds_unhold(s, product, units)
  local before = tonumber(redis.call('HGET', KEYS[3], product) or '0')
  -- 0 - n, not -n: -0 prints as '-0', which HINCRBY refuses.
  local delta = 0 - commit[i]
  local after = before
  if delta ~= 0 then
    after = redis.call('HINCRBY', KEYS[3], product, delta)
  end
  holds_move(s, 'commit', product, delta, before, after, -units, left, id)
  reply[i + 1] = {product, before, after, units - commit[i]}
  if commit[i] > 0 then
    placed[#placed + 1] = {product, before, after}
  end
end
record[3], record[6], record[7] = 'committed', holds_now(s), placed
redis.call('ZREM', KEYS[6], id)
holds_save(s, id, record, true)
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
