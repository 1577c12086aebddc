#!lua
--[[ ledger_post_hold — posts a pending transfer, in full or in part: the
amount posted moves from the source to the target, the rest is released.

KEYS[1]          idempotency record of the post request (lib/prelude.lua)
KEYS[2]          the hold (<p>:led:{<book>}:hold:<hold id>)
KEYS[3]          balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[4]          the book's entries stream (<p>:led:{<book>}:entries)
KEYS[5]          pending debits, a hash account -> minor units (<p>:led:{<book>}:pend_dr)
KEYS[6]          pending credits, a hash account -> minor units (<p>:led:{<book>}:pend_cr)
KEYS[7]          the book's holds, a sorted set by expiry (<p>:led:{<book>}:holds)
KEYS[8]          the source account's entries stream
KEYS[9]          the target account's entries stream
KEYS[10]          the fence's lease (lib/leases.lua); any key of the slot without one

ARGV[1], ARGV[2] request fingerprint, idempotency record TTL (ms)
ARGV[3]          entries streams' retention (lib/prelude.lua: rmw_retention)
ARGV[4]          clock skew in seconds (lib/funds.lua)
ARGV[5]          the caller's principal, recorded in the entries ('' without one)
ARGV[6]          the hold id
ARGV[7]          the source account, as ledger_get_hold read it
ARGV[8]          the target account, as ledger_get_hold read it
ARGV[9]          the amount to post, 1 .. held, or 'all'
ARGV[10]          the caller's reference
ARGV[11]         the caller's description
ARGV[12]          the fence's token, '' without a fence

Reply    {'posted', amount, released, from_after, to_after, entry_id}
       | {'not_found'} | {'already_posted'} | {'already_voided'}
       | {'expired', ended_at}      the hold expired (at ended_at, ms)
       | {'exceeds', held, requested}   more than the hold holds
       | {'stale'}                  the hold is not the one whose accounts
                                    were read: read again
                 (these write nothing but due holds' expiry)
       | {'fenced', current token}  the fence's token is not a current grant
                 (nothing written)
       | a prelude reply
]]
--@funds
--@leases

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end

local f = funds_open(KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], rmw_retention(), ARGV[4], ARGV[5])
-- Settings checked, nothing written yet: a stale fence writes nothing.
local fenced = lease_fence(KEYS[10], ARGV[12])
if fenced then
  return fenced
end
funds_settle(f)

local id = ARGV[6]
local record, ended = funds_active(f, id)
if not record then
  return ended
end
if record[5] ~= ARGV[7] or record[6] ~= ARGV[8] then
  return {'stale'}
end
local amount = ARGV[9] == 'all' and record[7] or tonumber(ARGV[9])
if amount > record[7] then
  return {'exceeds', record[7], amount}
end

local from, to = record[5], record[6]
funds_unpend(f, record)
local fb, tb = funds_posted(f, from), funds_posted(f, to)
local fa = redis.call('HINCRBY', KEYS[3], from, 0 - amount)
local ta = redis.call('HINCRBY', KEYS[3], to, amount)
local entry = funds_entry(f, 'post', from, to, amount, fb, fa, tb, ta, ARGV[10], ARGV[11], id)
record[3], record[8], record[9] = 'posted', funds_now(f), amount
redis.call('ZREM', KEYS[7], id)
funds_save(f, id, record, true)
return rmw_commit(KEYS[1], ARGV[1], ARGV[2],
  {'posted', amount, record[7] - amount, fa, ta, entry})
