#!lua
--[[ ledger_expire_holds — ends a book's due holds (the service's sweep, for
books nobody touches).

KEYS[1]          idempotency record (lib/prelude.lua; the sweep sends no
                 request id, so it is never read or written)
KEYS[2]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[3]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[4]          pending debits, a hash account -> minor units (<p>:led:{<book>}:pend_dr)
KEYS[5]          pending credits, a hash account -> minor units (<p>:led:{<book>}:pend_cr)
KEYS[6]          the book's holds, a sorted set by expiry (<p>:led:{<book>}:holds)

ARGV[1], ARGV[2] request fingerprint (''), idempotency record TTL (ms): how
                 long an ended hold's record lives
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/funds.lua)
ARGV[5]          the caller's principal ('' from the sweep; expiries record none)

Reply    {'expired', ended, due}   how many holds it ended (at most
                                   FUNDS_EXPIRE_LIMIT), and how many due
                                   ones are left
]]
--@funds

rmw_replay(KEYS[1], ARGV[1])
local f = funds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], rmw_retention(), ARGV[4])
local ended = funds_settle(f)
return {'expired', ended, redis.call('ZCOUNT', KEYS[6], '-inf', funds_now(f))}
