#!lua flags=no-writes
--[[ streams_after — the entries of a stream after a position, oldest first,
and what the stream no longer keeps (the watches: WatchMovements,
WatchEntries, WatchRecords).

KEYS[1]  the stream

ARGV[1]  the position: an id (entries after it, exclusive), '0-0' for the
         oldest kept, or '$' for none (only where the stream ends now)
ARGV[2]  at most this many entries

Reply    {'after', exists, last_id, dropped, first_id,
          {id, {field, value, ...}}, ...}   oldest first
         exists: 1 when the stream exists (a journal that is on), else 0;
         last_id: the newest id the stream ever had ('0-0': none);
         dropped: how many entries it no longer keeps (trimmed by its
         retention: all of them older than what it keeps);
         first_id: the oldest id kept ('' when it keeps none).
Read in one step with the entries, so whether entries after the position
are gone is told of this very read. (Redis's max-deleted-entry-id counts
XDEL only, not trimming: the count is entries-added less the length.)
]]

if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'after', 0, '0-0', 0, ''}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last, added, length, first = '0-0', 0, 0, ''
for i = 1, #info, 2 do
  local name, value = info[i], info[i + 1]
  if name == 'last-generated-id' then
    last = value
  elseif name == 'entries-added' then
    added = value
  elseif name == 'length' then
    length = value
  elseif name == 'first-entry' and type(value) == 'table' then
    first = value[1]
  end
end
local reply = {'after', 1, last, added - length, first}
if ARGV[1] ~= '$' then
  local from = '-'
  if ARGV[1] ~= '0-0' then
    from = '(' .. ARGV[1]
  end
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', ARGV[2])
  for i = 1, #entries do
    reply[i + 5] = entries[i]
  end
end
return reply
