#!lua
--[[ ledger_transfer — moves money between two accounts of a book, with an audit entry.

KEYS[1]          idempotency record, keyed by the transfer id (lib/prelude.lua)
KEYS[2]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[3]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[4]          pending debits, a hash account -> minor units (<p>:led:{<book>}:pend_dr)
KEYS[5]          pending credits, a hash account -> minor units (<p>:led:{<book>}:pend_cr)
KEYS[6]          the book's holds, a sorted set by expiry (<p>:led:{<book>}:holds)
KEYS[7]          the source account's entries stream (<p>:led:{<book>}:entries:<from>)
KEYS[8]          the target account's entries stream (<p>:led:{<book>}:entries:<to>)

ARGV[1], ARGV[2] request fingerprint (never '': the transfer id is required),
                 idempotency record TTL (ms)
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/funds.lua)
ARGV[5]          the caller's principal, recorded in the entries ('' without one)
ARGV[6]          the source account
ARGV[7]          the target account (not the source)
ARGV[8]          the amount, 1 .. 2^53-1 minor units
ARGV[9]          the caller's reference
ARGV[10]          the caller's description
ARGV[11]         the transfer id, recorded in the entry

Reply    {'transferred', from_after, to_after, entry_id}
       | {'insufficient', available, requested}
                 the source has less available: posted minus pending
                 debits (nothing written but due holds' expiry)
       | {'overflow', balance}  the target, with its pending credits, would
                 pass 2^53-1 (nothing written but due holds' expiry)
       | a prelude reply
A refused transfer is not recorded, so a retry is evaluated again.
]]
--@funds

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local f = funds_open(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], rmw_retention(), ARGV[4], ARGV[5])
local trim = f.trim
local _, stale = funds_settle(f)

local from, to, amount = ARGV[6], ARGV[7], tonumber(ARGV[8])
local levels = funds_levels(f, stale, {from, to})
local fb, tb = levels[1][1], levels[2][1]
if fb - levels[1][2] < amount then
  return {'insufficient', fb - levels[1][2], amount}
end
if tb > MAX - amount - levels[2][3] then
  return {'overflow', tb}
end

local fa = redis.call('HINCRBY', KEYS[2], from, '-' .. ARGV[8])
local ta = redis.call('HINCRBY', KEYS[2], to, ARGV[8])
local fields = funds_signed(f, {F.kind, 'transfer', F.from, from, F.to, to, F.amount, amount,
  F.from_before, fb, F.from_after, fa, F.to_before, tb, F.to_after, ta,
  F.reference, ARGV[9], F.description, ARGV[10], F.request_id, ARGV[11]})
local id = rmw_xadd(KEYS[3], trim, unpack(fields))
rmw_xadd(KEYS[7], trim, F.id, id, unpack(fields))
rmw_xadd(KEYS[8], trim, F.id, id, unpack(fields))
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'transferred', fa, ta, id})
