#!lua
--[[ ledger_void_hold — ends a pending transfer without moving money.

KEYS[1]          idempotency record of the void request (lib/prelude.lua)
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
ARGV[9]          the fence's token, '' without a fence

Reply    {'voided', amount, entry_id}
       | {'not_found'} | {'already_posted'} | {'already_voided'}
       | {'expired', ended_at} | {'stale'}
                 as ledger_post_hold (nothing written but due holds' expiry)
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
local fenced = lease_fence(KEYS[10], ARGV[9])
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
local entry = funds_end(f, id, record, 'voided')
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'voided', record[7], entry})
