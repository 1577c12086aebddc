#!lua
--[[ ledger_post — credits or debits one account, with an audit entry (Credit, Debit).

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[3]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[4]          pending debits, a hash account -> minor units (<p>:led:{<book>}:pend_dr)
KEYS[5]          pending credits, a hash account -> minor units (<p>:led:{<book>}:pend_cr)
KEYS[6]          the book's holds, a sorted set by expiry (<p>:led:{<book>}:holds)
KEYS[7]          the account's entries stream (<p>:led:{<book>}:entries:<account>)

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/funds.lua)
ARGV[5]          the caller's principal, recorded in the entries ('' without one)
ARGV[6]          'credit' or 'debit'
ARGV[7]          the account
ARGV[8]          the amount, 1 .. 2^53-1 minor units
ARGV[9]          the caller's reference
ARGV[10]          the caller's description
ARGV[11]         the request id ('' without one), recorded in the entry

Reply    {'posted', before, after, entry_id}
       | {'insufficient', available, requested}
                 a debit past what is available: posted minus pending
                 debits (nothing written but due holds' expiry)
       | {'overflow', balance}  a credit that would take the balance, with
                 its pending credits, past 2^53-1 (nothing written but due
                 holds' expiry)
       | a prelude reply
Balances stay within 0 .. 2^53-1, where Lua's numbers are exact; HINCRBY,
never HINCRBYFLOAT, and no sum is computed before it is known to fit.
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

local kind, account, amount = ARGV[6], ARGV[7], tonumber(ARGV[8])
local level = funds_levels(f, stale, {account})[1]
local before = level[1]
local delta
if kind == 'debit' then
  if before - level[2] < amount then
    return {'insufficient', before - level[2], amount}
  end
  delta = '-' .. ARGV[8]
else
  -- Compared, never summed past 2^53: pending credits will land too.
  if before > MAX - amount - level[3] then
    return {'overflow', before}
  end
  delta = ARGV[8]
end

local after = redis.call('HINCRBY', KEYS[2], account, delta)
local from, to, fb, fa, tb, ta = '', '', 0, 0, 0, 0
if kind == 'debit' then
  from, fb, fa = account, before, after
else
  to, tb, ta = account, before, after
end
local fields = funds_signed(f, {F.kind, kind, F.from, from, F.to, to, F.amount, amount,
  F.from_before, fb, F.from_after, fa, F.to_before, tb, F.to_after, ta,
  F.reference, ARGV[9], F.description, ARGV[10], F.request_id, ARGV[11]})
local id = rmw_xadd(KEYS[3], trim, unpack(fields))
rmw_xadd(KEYS[7], trim, F.id, id, unpack(fields))
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'posted', before, after, id})
