#!lua
--[[ inventory_expire_holds — ends a store's due holds (the service's sweep,
for stores nobody touches).

KEYS[1]          idempotency record (lib/prelude.lua; the sweep sends no
                 request id, so it is never read or written)
KEYS[2]          stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[3]          the store's movements stream (<p>:inv:{<store>}:moves)
KEYS[4]          units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[5]          the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)

ARGV[1], ARGV[2] request fingerprint (''), idempotency record TTL (ms): how
                 long an ended hold's record lives
ARGV[3]          movements streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[5]          the caller's principal ('' from the sweep; expiries record none)

Reply    {'expired', ended, due}   how many holds it ended (at most
                                   HOLDS_EXPIRE_LIMIT), and how many due
                                   ones are left
]]
--@holds

rmw_replay(KEYS[1], ARGV[1])
local s = holds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], rmw_retention(), ARGV[4])
local ended = holds_settle(s)
return {'expired', ended, redis.call('ZCOUNT', KEYS[5], '-inf', holds_now(s))}
