#!lua
--[[ values_cond_update — checks N conditions, then applies M writes; all or nothing.

KEYS[1]                idempotency record (lib/prelude.lua)
KEYS[2]                the fence's lease (lib/leases.lua); any key of the
                       slot without one
KEYS[3 .. 2+N]         the condition keys, in request order
KEYS[3+N .. 2+N+M]     the write keys, in request order, each key once

ARGV[1]                request fingerprint, '' without a request id
ARGV[2]                idempotency record TTL, milliseconds
ARGV[3]                N, the number of conditions
ARGV[4]                M, the number of writes
ARGV[5]                the fence's token, '' without a fence
ARGV[6 .. 5+2N]        per condition: operator, operand
                       operators: eq ne gt gte lt lte exists not_exists
                       (numeric operands are validated decimals)
ARGV[6+2N .. 5+2N+2M]  per write: '1', value (set) or '0', '' (delete)

Reply    {'applied', M}
       | {'failed', index}          condition `index` (0-based) failed, its key is absent
       | {'failed', index, actual}  condition `index` failed, its key holds `actual`
       | {'fenced', current token}  the fence's token is not a current grant
       | a prelude reply
Nothing is written unless every condition holds.
]]

-- Decimals (-?[0-9]+(.[0-9]+)?) compare exactly as digit strings, at any
-- size: as Lua doubles, 2^53 and 2^53+1 would be equal.
local function decimal(text)
  local sign, int, frac = string.match(text, '^(%-?)(%d+)%.(%d+)$')
  if not sign then
    sign, int = string.match(text, '^(%-?)(%d+)$')
    if not sign then
      return nil
    end
    frac = ''
  end
  int = string.gsub(int, '^0+', '')
  frac = string.gsub(frac, '0+$', '')
  return {negative = sign == '-' and (int ~= '' or frac ~= ''), int = int, frac = frac}
end

-- Byte-wise, so that no locale's collation gets a say.
local function compare_digits(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y and -1 or 1
    end
  end
  if #a == #b then
    return 0
  end
  return #a < #b and -1 or 1
end

local function compare(a, b)
  if a.negative ~= b.negative then
    return a.negative and -1 or 1
  end
  local magnitude
  if #a.int ~= #b.int then
    magnitude = #a.int < #b.int and -1 or 1
  else
    magnitude = compare_digits(a.int, b.int)
    if magnitude == 0 then
      magnitude = compare_digits(a.frac, b.frac)
    end
  end
  return a.negative and -magnitude or magnitude
end

local ZERO = decimal('0')

local function holds(operator, operand, current)
  if operator == 'eq' then
    return current == operand
  elseif operator == 'ne' then
    return current ~= operand
  elseif operator == 'exists' then
    return current ~= false
  elseif operator == 'not_exists' then
    return current == false
  end
  -- Numeric: a missing key counts as 0, a stored non-number fails.
  local have = ZERO
  if current then
    have = decimal(current)
    if not have then
      return false
    end
  end
  local order = compare(have, decimal(operand))
  if operator == 'gt' then
    return order > 0
  elseif operator == 'gte' then
    return order >= 0
  elseif operator == 'lt' then
    return order < 0
  elseif operator == 'lte' then
    return order <= 0
  end
  error('values_cond_update: unknown operator ' .. operator)
end

local replay = rmw_replay(KEYS[1], ARGV[1])
if replay then
  return replay
end
--@leases
local fenced = lease_fence(KEYS[2], ARGV[5])
if fenced then
  return fenced
end

local conditions = tonumber(ARGV[3])
local writes = tonumber(ARGV[4])

for i = 1, conditions do
  local current = redis.call('GET', KEYS[2 + i])
  if not holds(ARGV[4 + 2 * i], ARGV[5 + 2 * i], current) then
    if current then
      return {'failed', i - 1, current}
    end
    return {'failed', i - 1}
  end
end

for i = 1, writes do
  local key = KEYS[2 + conditions + i]
  local at = 4 + 2 * conditions + 2 * i
  if ARGV[at] == '1' then
    redis.call('SET', key, ARGV[at + 1])
  else
    redis.call('DEL', key)
  end
end
return rmw_commit(KEYS[1], ARGV[1], ARGV[2], {'applied', writes})
