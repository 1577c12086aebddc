#!lua flags=no-writes
--[[ streams_page — one page of a stream, newest first (ListMovements, ListEntries).

KEYS[1]  the stream

ARGV[1]  the id of the last entry of the previous page (exclusive), or '' for
         the newest
ARGV[2]  at most this many entries

Reply    {'page', {id, {field, value, ...}}, ...}   newest first
]]

local from = '+'
if ARGV[1] ~= '' then
  from = '(' .. ARGV[1]
end
local entries = redis.call('XREVRANGE', KEYS[1], from, '-', 'COUNT', ARGV[2])
local reply = {'page'}
for i = 1, #entries do
  reply[i + 1] = entries[i]
end
return reply
