#!lua flags=no-writes
--[[ counters_get — reads a counter.

KEYS[1]  the counter, an integer string (<p>:ctr:{<name>})

Reply    {'value', value}   0 for a counter never adjusted
]]

return {'value', tonumber(redis.call('GET', KEYS[1]) or '0')}
