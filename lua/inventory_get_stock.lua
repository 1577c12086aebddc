#!lua flags=no-writes
--[[ inventory_get_stock — reads stock levels: on hand and held.

KEYS[1]      stock levels, a hash product -> units (<p>:inv:{<store>}:stock)
KEYS[2]      units held, a hash product -> units (<p>:inv:{<store>}:held)
KEYS[3]      the store's holds, a sorted set by expiry (<p>:inv:{<store>}:holds)

ARGV[1]      clock skew in seconds (lib/holds.lua: holds_clock)
ARGV[2 .. 1+N] products

Reply    {'levels', {on_hand, held}, ...}   in request order; a product never
                                             stocked is {0, 0}
Holds past their expiry are not counted, ended or not.
]]
--@holds

local s = holds_open(KEYS[1], nil, KEYS[2], KEYS[3], {}, ARGV[1])
local products = {}
for i = 2, #ARGV do
  products[i - 1] = ARGV[i]
end
local reply = {'levels'}
for i, level in ipairs(holds_levels(s, holds_due(s), products)) do
  reply[i + 1] = level
end
return reply
