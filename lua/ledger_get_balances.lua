#!lua flags=no-writes
--[[ ledger_get_balances — reads balances.

KEYS[1]      balances, a hash account -> minor units (<p>:led:{<book>}:bal)

ARGV[1 .. N] accounts

Reply    {'balances', balance, ...}   in request order; an account never used is 0
]]

local balances = redis.call('HMGET', KEYS[1], unpack(ARGV))
local reply = {'balances'}
for i = 1, #ARGV do
  reply[i + 1] = tonumber(balances[i] or '0')
end
return reply
