#!lua flags=no-writes
--[[ inventory_get_hold — reads a hold: where it stands and what it holds.

KEYS[1]  the hold (<p>:inv:{<store>}:order:<hold id>), as inventory_hold_stock
         recorded it

ARGV[1]  clock skew in seconds (lib/holds.lua: holds_clock)

Reply    {'hold', state, expires_at, ended_at, {product, units, committed}, ...}
                 state 'held', 'committed', 'released', 'expired' or
                 'cancelled' (committed, then cancelled as an order); times
                 in ms of Redis's clock, ended_at 0 while held; items in
                 hold order, committed 0 unless committed
       | {'not_found'}   no such hold (never held, its record expired, or an
                         order's id)
A hold past its expiry reads as expired, ended at its expiry, whether a
script has ended it yet or not.
]]
--@holds

local stored = redis.call('GET', KEYS[1])
if not stored then
  return {'not_found'}
end
local record = cmsgpack.unpack(stored)
if not record[4] then
  return {'not_found'}
end
local state, ended = record[3], record[6]
if state == 'held' and record[4] <= holds_clock(ARGV[1]) then
  state, ended = 'expired', record[4]
end
local committed = {}
for i = 2, #record[7] do
  local line = record[7][i]
  committed[line[1]] = line[2] - line[3]
end
local reply = {'hold', state, record[4], ended}
for _, item in ipairs(record[5]) do
  reply[#reply + 1] = {item[1], item[2], committed[item[1]] or 0}
end
return reply
