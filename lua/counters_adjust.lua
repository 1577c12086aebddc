#!lua
--[[ counters_adjust — adds a signed amount to a counter that must stay within bounds.

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          the counter, an integer string (<p>:ctr:{<name>})

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          the amount, nonzero, within ±(2^53-1)
ARGV[4]          the lowest value allowed, within ±(2^53-1)
ARGV[5]          the highest value allowed, within ±(2^53-1), >= ARGV[4]

Reply    {'adjusted', previous, value}
       | {'out_of_bounds', current, bound, 'min' | 'max'}   (nothing written)
       | a prelude reply
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local amount, min, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
-- current + amount is never computed before it is known to be in bounds:
-- past 2^53 a double would round it. The differences below may round, but
-- only where they lie beyond ±(2^53-1), which no counter value reaches, so
-- each comparison still comes out right.
if current > max - amount then
  return {'out_of_bounds', current, max, 'max'}
end
if current < min - amount then
  return {'out_of_bounds', current, min, 'min'}
end
local value = redis.call('INCRBY', KEYS[2], ARGV[3])
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'adjusted', current, value})
