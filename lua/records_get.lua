#!lua flags=no-writes
--[[ records_get — reads a versioned record.

KEYS[1]  the record, a hash (<prefix>:rec:<key>): `v` the value, `ver` the
         version; a tombstone (a deleted record) keeps only `ver`

Reply    {'record', version, value}
       | {'record', 0}            absent, or deleted
]]

local fields = redis.call('HMGET', KEYS[1], 'v', 'ver')
if not fields[1] then
  return {'record', 0}
end
return {'record', tonumber(fields[2]), fields[1]}
