#!lua
--[[ holds_due_take — takes the holds now due out of one shard of the
sweep's index, for the service to end them (inventory_expire_holds,
ledger_expire_holds). One that is taken and not ended (the service
stopped) ends when its store or book is next touched; reads never count
it either way.

KEYS[1]  one shard of the index, as holds_due_add wrote it

ARGV[1]  clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[2]  at most this many

Reply    {'due', member, ...}   soonest first
]]
--@holds

local due = redis.call('ZRANGE', KEYS[1], '-inf', holds_clock(ARGV[1]), 'BYSCORE',
  'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
end
local reply = {'due'}
for i, member in ipairs(due) do
  reply[i + 1] = member
end
return reply
