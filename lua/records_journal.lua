#!lua
--[[ records_journal — turns a tag's change journal on or off
(EnableJournal, DisableJournal).

KEYS[1]  the journal, a stream (<prefix>:jrn:tag:{<tag>}): while it
         exists, records_put and records_delete append every change of
         the tag's records to it

ARGV[1]  'on' or 'off'

Reply    {'journal', changed}   changed: 1 when turned on (off), 0 when it
                                already was
A journal turned on is an empty stream: created with a consumer group and
the group dropped at once (XADD would leave an entry, or with MAXLEN 0 a
deleted one, which a watch from the oldest would report as trimmed).
]]

local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == 'on' then
  if exists then
    return {'journal', 0}
  end
  redis.call('XGROUP', 'CREATE', KEYS[1], 'rmw-journal', '$', 'MKSTREAM')
  redis.call('XGROUP', 'DESTROY', KEYS[1], 'rmw-journal')
  return {'journal', 1}
elseif ARGV[1] == 'off' then
  if not exists then
    return {'journal', 0}
  end
  redis.call('DEL', KEYS[1])
  return {'journal', 1}
end
error('rmw: records_journal: on or off, not ' .. tostring(ARGV[1]))
