#!lua
--[[ inventory_release_hold — ends a hold without taking anything: its units
go back to available.

KEYS[1]          idempotency record of the release request (lib/prelude.lua)
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
ARGV[8 .. 7+N]   the hold's products, in hold order, as inventory_get_hold
                 read them

Reply    {'released', {product, units}, ...}   in hold order
       | {'not_found'} | {'already_committed'} | {'already_released'}
       | {'expired', ended_at} | {'stale'}
                 as inventory_commit_hold (nothing written but due holds'
                 expiry)
       | {'fenced', current token}  the fence's token is not a current grant
                 (nothing written)
       | a prelude reply
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
if #items ~= #ARGV - 7 then
  return {'stale'}
end
local reply = {'released'}
for i, item in ipairs(items) do
  if item[1] ~= ARGV[7 + i] then
    return {'stale'}
  end
  reply[i + 1] = {item[1], item[2]}
end
holds_end(s, id, record, 'released')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
