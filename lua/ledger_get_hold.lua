#!lua flags=no-writes
--[[ ledger_get_hold — reads a pending transfer: where it stands.

KEYS[1]  the hold (<p>:led:{<book>}:hold:<hold id>), as ledger_hold_funds
         recorded it

ARGV[1]  clock skew in seconds (lib/funds.lua)

Reply    {'hold', state, expires_at, ended_at, from, to, amount, posted}
                 state 'held', 'posted', 'voided' or 'expired'; times in ms
                 of Redis's clock, ended_at 0 while held; posted 0 unless
                 posted
       | {'not_found'}   never held, or its record expired
A hold past its expiry reads as expired, ended at its expiry, whether a
script has ended it yet or not.
]]

local stored = redis.call('GET', KEYS[1])
if not stored then
  return {'not_found'}
end
local record = cmsgpack.unpack(stored)
local t = redis.call('TIME')
local skew = rmw_setting('clock skew', ARGV[1], -315360000, 315360000)
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + skew * 1000
local state, ended = record[3], record[8]
if state == 'held' and record[4] <= now then
  state, ended = 'expired', record[4]
end
return {'hold', state, record[4], ended, record[5], record[6], record[7], record[9]}
