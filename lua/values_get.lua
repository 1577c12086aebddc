#!lua flags=no-writes
--[[ values_get — reads one value.

KEYS[1]  the value (<prefix>:val:<key>)

Reply    {'value', bytes}
       | {'not_found'}
]]

local value = redis.call('GET', KEYS[1])
if not value then
  return {'not_found'}
end
return {'value', value}
