#!lua
--[[ ledger_post — credits or debits one account, with an audit entry (Credit, Debit).

KEYS[1]          idempotency record (lib/prelude.lua)
KEYS[2]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[3]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[4]          the account's entries stream (<p>:led:{<book>}:entries:<account>)

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          'credit' or 'debit'
ARGV[5]          the account
ARGV[6]          the amount, 1 .. 2^53-1 minor units
ARGV[7]          the caller's reference
ARGV[8]          the caller's description
ARGV[9]          the request id ('' without one), recorded in the entry

Reply    {'posted', before, after, entry_id}
       | {'insufficient', balance, requested}   a debit past 0 (nothing written)
       | {'overflow', balance}                  a credit past 2^53-1 (nothing written)
       | a prelude reply
Balances stay within 0 .. 2^53-1, where Lua's numbers are exact; HINCRBY,
never HINCRBYFLOAT, and no sum is computed before it is known to fit.
]]

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local trim = rmw_retention()

local kind, account, amount = ARGV[4], ARGV[5], tonumber(ARGV[6])
local before = tonumber(redis.call('HGET', KEYS[2], account) or '0')
local delta
if kind == 'debit' then
  if before < amount then
    return {'insufficient', before, amount}
  end
  delta = '-' .. ARGV[6]
else
  if before > MAX - amount then
    return {'overflow', before}
  end
  delta = ARGV[6]
end

local after = redis.call('HINCRBY', KEYS[2], account, delta)
local from, to, fb, fa, tb, ta = '', '', 0, 0, 0, 0
if kind == 'debit' then
  from, fb, fa = account, before, after
else
  to, tb, ta = account, before, after
end
local fields = {F.kind, kind, F.from, from, F.to, to, F.amount, amount, F.from_before, fb,
  F.from_after, fa, F.to_before, tb, F.to_after, ta,
  F.reference, ARGV[7], F.description, ARGV[8], F.request_id, ARGV[9]}
local id = rmw_xadd(KEYS[3], trim, unpack(fields))
rmw_xadd(KEYS[4], trim, F.id, id, unpack(fields))
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'posted', before, after, id})
