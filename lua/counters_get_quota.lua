#!lua flags=no-writes
--[[ counters_get_quota — reads a daily quota without spending.

KEYS[1]  the quota at one UTC offset, a hash (<p>:ctr:{<name>}:quota:<offset>),
         as counters_consume_quota keeps it

ARGV[1]  seconds added to Redis's clock (0 but in tests of the rollover)
ARGV[2]  units allowed per day, 1 .. 2^53-1
ARGV[3]  the day's offset from UTC, minutes (-840 .. 840)

Reply    {'quota', count, remaining, resets_at}   resets_at in Unix seconds
]]

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(ARGV[1])
local offset = tonumber(ARGV[3]) * 60
local day = math.floor((now + offset) / 86400)
local resets_at = (day + 1) * 86400 - offset

local limit = tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'day', 'count')
local count = 0
if tonumber(stored[1]) == day then
  count = tonumber(stored[2])
end
return {'quota', count, math.max(limit - count, 0), resets_at}
