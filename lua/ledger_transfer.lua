#!lua
--[[ ledger_transfer — moves money between two accounts of a book, with an audit entry.

KEYS[1]          idempotency record, keyed by the transfer id (lib/prelude.lua)
KEYS[2]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[3]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[4]          the source account's entries stream (<p>:led:{<book>}:entries:<from>)
KEYS[5]          the target account's entries stream (<p>:led:{<book>}:entries:<to>)

ARGV[1], ARGV[2] request fingerprint (never '': the transfer id is required),
                 idempotency record TTL (ms)
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          the source account
ARGV[5]          the target account (not the source)
ARGV[6]          the amount, 1 .. 2^53-1 minor units
ARGV[7]          the caller's reference
ARGV[8]          the caller's description
ARGV[9]          the transfer id, recorded in the entry

Reply    {'transferred', from_after, to_after, entry_id}
       | {'insufficient', balance, requested}   the source holds less (nothing written)
       | {'overflow', balance}                  the target would pass 2^53-1 (nothing written)
       | a prelude reply
A refused transfer is not recorded, so a retry is evaluated again.
]]

local MAX = 9007199254740991

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local trim = rmw_retention()

local from, to, amount = ARGV[4], ARGV[5], tonumber(ARGV[6])
local balances = redis.call('HMGET', KEYS[2], from, to)
local fb = tonumber(balances[1] or '0')
local tb = tonumber(balances[2] or '0')
if fb < amount then
  return {'insufficient', fb, amount}
end
if tb > MAX - amount then
  return {'overflow', tb}
end

local fa = redis.call('HINCRBY', KEYS[2], from, '-' .. ARGV[6])
local ta = redis.call('HINCRBY', KEYS[2], to, ARGV[6])
local fields = {F.kind, 'transfer', F.from, from, F.to, to, F.amount, amount, F.from_before, fb,
  F.from_after, fa, F.to_before, tb, F.to_after, ta,
  F.reference, ARGV[7], F.description, ARGV[8], F.request_id, ARGV[9]}
local id = rmw_xadd(KEYS[3], trim, unpack(fields))
rmw_xadd(KEYS[4], trim, F.id, id, unpack(fields))
rmw_xadd(KEYS[5], trim, F.id, id, unpack(fields))
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'transferred', fa, ta, id})
