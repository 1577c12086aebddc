#!lua flags=no-writes
--[[ sequences_get — reads a sequence's state.

KEYS[1]  the highest id issued, an integer string (<p>:seq:{<name>}:high)
KEYS[2]  the free ids, a sorted set scored by id (<p>:seq:{<name>}:free)

Reply    {'sequence', highest_issued, free_count}
]]

return {'sequence', tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('ZCARD', KEYS[2])}
