#!lua flags=no-writes
--[[ inventory_list_holds — a page of a store's active holds, soonest expiry
first (ties by hold id).

KEYS[1]  the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)

ARGV[1]  clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[2]  page size, 1 .. 1000
ARGV[3]  after this expiry (ms; '' for the first page)
ARGV[4]  and, at that expiry, after this hold id

Reply    {'holds', more, {id, expires_at, product, units, ...}, ...}
                 more is 1 when another page follows
Holds past their expiry are not listed, ended or not.
]]
--@holds

local now = holds_clock(ARGV[1])
local size = tonumber(ARGV[2])
local base = string.sub(KEYS[1], 1, -6)
local min, after, ties = '(' .. string.format('%d', now), nil, 0
if ARGV[3] ~= '' and tonumber(ARGV[3]) > now then
  after = tonumber(ARGV[3])
  min = ARGV[3]
  ties = redis.call('ZCOUNT', KEYS[1], min, min)
end
local found = redis.call('ZRANGE', KEYS[1], min, '+inf', 'BYSCORE', 'WITHSCORES',
  'LIMIT', 0, size + 1 + ties)
local reply = {'holds', 0}
for i = 1, #found, 2 do
  local id, expires = found[i], tonumber(found[i + 1])
  if not (after and expires == after and id <= ARGV[4]) then
    if #reply - 2 == size then
      reply[2] = 1
      break
    end
    local line = {id, expires}
    local stored = redis.call('GET', base .. 'order:' .. id)
    if stored then
      for _, item in ipairs(cmsgpack.unpack(stored)[5]) do
        line[#line + 1] = item[1]
        line[#line + 1] = item[2]
      end
    end
    reply[#reply + 1] = line
  end
end
return reply
