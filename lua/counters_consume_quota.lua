#!lua
--[[ counters_consume_quota — spends from a daily quota.

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          the quota at one UTC offset, a hash (<p>:ctr:{<name>}:quota:<offset>):
                 `day` the day counted (days since 1970-01-01 at that offset),
                 `count` the units spent that day

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          seconds added to Redis's clock (0 but in tests of the rollover)
ARGV[4]          units to spend, 1 .. 2^53-1
ARGV[5]          units allowed per day, 1 .. 2^53-1
ARGV[6]          the day's offset from UTC, minutes (-840 .. 840)

Reply    {'consumed', count, remaining, resets_at}
       | {'limit_exceeded', count, limit, remaining, resets_at}   (nothing written)
       | a prelude reply
resets_at is in Unix seconds. The day comes from Redis's TIME, never from a
caller: replicas with skewed clocks agree on when it ends. The hash expires
a minute after its day ends.
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local skew = rmw_setting('clock skew', ARGV[3], -315360000, 315360000)
local time = redis.call('TIME')
local now = tonumber(time[1]) + skew
local offset = tonumber(ARGV[6]) * 60
local day = math.floor((now + offset) / 86400)
local resets_at = (day + 1) * 86400 - offset

local amount, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local stored = redis.call('HMGET', KEYS[2], 'day', 'count')
local count = 0
if tonumber(stored[1]) == day then
  count = tonumber(stored[2])
end

if count > limit - amount then
  return {'limit_exceeded', count, limit, math.max(limit - count, 0), resets_at}
end
count = count + amount
redis.call('HSET', KEYS[2], 'day', day, 'count', count)
redis.call('EXPIRE', KEYS[2], resets_at - now + 60)
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'consumed', count, limit - count, resets_at})
