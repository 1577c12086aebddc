#!lua
--[[ sequences_return — gives ids back for reuse.

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          the highest id issued, an integer string (<p>:seq:{<name>}:high)
KEYS[3]          the free ids, a sorted set scored by id (<p>:seq:{<name>}:free)

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3 .. ]      the ids, in request order

Reply    {'returned', id, verdict, id, verdict, ...}   in request order;
         verdict 'accepted', 'never_issued' (above the highest issued),
         'not_positive', or 'already_free' (free before, or twice here)
       | a prelude reply
]]

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local high = tonumber(redis.call('GET', KEYS[2]) or '0')
local reply = {'returned'}
local accepted, seen = {}, {}
for i = 3, #ARGV do
  local id = tonumber(ARGV[i])
  local verdict
  if id <= 0 then
    verdict = 'not_positive'
  elseif id > high then
    verdict = 'never_issued'
  elseif seen[ARGV[i]] or redis.call('ZSCORE', KEYS[3], ARGV[i]) then
    verdict = 'already_free'
  else
    verdict = 'accepted'
    accepted[#accepted + 1] = ARGV[i]
    accepted[#accepted + 1] = ARGV[i]
  end
  seen[ARGV[i]] = true
  reply[#reply + 1] = id
  reply[#reply + 1] = verdict
end
if #accepted > 0 then
  redis.call('ZADD', KEYS[3], unpack(accepted))
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], reply)
