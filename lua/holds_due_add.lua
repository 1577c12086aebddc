#!lua
--[[ holds_due_add — notes a hold in the sweep's index, so that the service
ends it when due even if nobody touches its store or book.

KEYS[1]  one shard of the index, a sorted set '<store or book> <hold id>' ->
         expiry (<p>:inv:due:{<shard>} or <p>:led:due:{<shard>});
         idempotent, so no idempotency record

ARGV[1]  the hold's expiry, ms of Redis's clock
ARGV[2]  the member: store or book, a space, hold id

Reply    {'added'}
]]

redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return {'added'}
