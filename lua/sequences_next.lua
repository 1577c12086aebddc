#!lua
--[[ sequences_next — takes ids: returned ones first, lowest first, then new ones.

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          the highest id issued, an integer string (<p>:seq:{<name>}:high)
KEYS[3]          the free ids, a sorted set scored by id (<p>:seq:{<name>}:free)

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          how many ids, 1 .. 1000

Reply    {'issued', id, ...}   free ids lowest first, then new ones in order
       | {'exhausted', high}   new ids would pass 2^53-1 (nothing written)
       | a prelude reply
An id is either free or issued: only a free id is handed out, and taking it
removes it from the free set, so no id is held by two callers at once.
]]

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local count = tonumber(ARGV[3])
local high = tonumber(redis.call('GET', KEYS[2]) or '0')
local free = redis.call('ZRANGE', KEYS[3], 0, count - 1)
local fresh = count - #free
if fresh > 0 and high > MAX - fresh then
  return {'exhausted', high}
end

local reply = {'issued'}
if #free > 0 then
  redis.call('ZREM', KEYS[3], unpack(free))
  for i = 1, #free do
    reply[i + 1] = tonumber(free[i])
  end
end
if fresh > 0 then
  redis.call('INCRBY', KEYS[2], fresh)
  for i = 1, fresh do
    reply[#reply + 1] = high + i
  end
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
