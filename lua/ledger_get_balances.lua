#!lua flags=no-writes
--[[ ledger_get_balances — reads balances: posted and pending.

KEYS[1]      balances, a hash account -> minor units (<p>:led:{<book>}:bal)
KEYS[2]      pending debits, a hash account -> minor units (<p>:led:{<book>}:pend_dr)
KEYS[3]      pending credits, a hash account -> minor units (<p>:led:{<book>}:pend_cr)
KEYS[4]      the book's holds, a sorted set by expiry (<p>:led:{<book>}:holds)

ARGV[1]      clock skew in seconds (lib/funds.lua)
ARGV[2 .. 1+N] accounts

Reply    {'balances', {posted, pending_debits, pending_credits}, ...}
                 in request order; an account never used is {0, 0, 0}
Holds past their expiry are not counted, ended or not.
]]
--@funds

local f = funds_open(KEYS[1], nil, KEYS[2], KEYS[3], KEYS[4], {}, ARGV[1])
local accounts = {}
for i = 2, #ARGV do
  accounts[i - 1] = ARGV[i]
end
local reply = {'balances'}
for i, level in ipairs(funds_levels(f, funds_due(f), accounts)) do
  reply[i + 1] = level
end
return reply
