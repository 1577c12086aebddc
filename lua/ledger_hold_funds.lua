#!lua
--[[ ledger_hold_funds — holds money of one account for another until a
post, a void or the expiry: a pending transfer.

KEYS[1]          the hold (<p>:led:{<book>}:hold:<hold id>): its idempotency
                 record and its state (lib/funds.lua)
KEYS[2]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[3]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[4]          pending debits, a hash account -> minor units (<p>:led:{<book>}:pend_dr)
KEYS[5]          pending credits, a hash account -> minor units (<p>:led:{<book>}:pend_cr)
KEYS[6]          the book's holds, a sorted set by expiry (<p>:led:{<book>}:holds)
KEYS[7]          the source account's entries stream (<p>:led:{<book>}:entries:<from>)
KEYS[8]          the target account's entries stream (<p>:led:{<book>}:entries:<to>)
KEYS[9]          the fence's lease (lib/leases.lua); any key of the slot without one

ARGV[1], ARGV[2] request fingerprint (never '': the hold id is required),
                 idempotency record TTL (ms): how long an ended hold's
                 record lives
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/funds.lua)
ARGV[5]          the caller's principal, recorded in the entries ('' without one)
ARGV[6]          the source account
ARGV[7]          the target account (not the source)
ARGV[8]          the amount, 1 .. 2^53-1 minor units
ARGV[9]          how long the hold lasts, ms (1 .. ten years)
ARGV[10]          the caller's reference
ARGV[11]         the caller's description
ARGV[12]         the hold id, recorded in the entries
ARGV[13]          the fence's token, '' without a fence

Reply    {'held', expires_at, available, entry_id}
                 expires_at in ms of Redis's clock; what the source has
                 available after
       | {'insufficient', available, requested}
                 (nothing written but due holds' expiry)
       | {'overflow', balance}  the target, with its pending credits, would
                 pass 2^53-1 (nothing written but due holds' expiry)
       | {'fenced', current token}  the fence's token is not a current grant
                 (nothing written)
       | a prelude reply
]]
--@funds
--@leases

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local f = funds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], rmw_retention(), ARGV[4], ARGV[5])
local ttl = rmw_setting('hold ttl', ARGV[9], 1, RMW_MAX_TTL_MS)
-- Settings checked, nothing written yet: a stale fence writes nothing.
local fenced = lease_fence(KEYS[9], ARGV[13])
if fenced then
  return fenced
end
local _, stale = funds_settle(f)

local from, to, amount = ARGV[6], ARGV[7], tonumber(ARGV[8])
local levels = funds_levels(f, stale, {from, to})
local available = levels[1][1] - levels[1][2]
if available < amount then
  return {'insufficient', available, amount}
end
if levels[2][1] > MAX - amount - levels[2][3] then
  return {'overflow', levels[2][1]}
end

redis.call('HINCRBY', KEYS[4], from, ARGV[8])
redis.call('HINCRBY', KEYS[5], to, ARGV[8])
local fb, tb = levels[1][1], levels[2][1]
local entry = funds_entry(f, 'hold', from, to, amount, fb, fb, tb, tb, ARGV[10], ARGV[11], ARGV[12])
local expires = funds_now(f) + ttl
local reply = {'held', expires, available - amount, entry}
redis.call('ZADD', KEYS[6], expires, ARGV[12])
funds_save(f, ARGV[12], {ARGV[1], reply, 'held', expires, from, to, amount, 0, 0}, false)
return reply
