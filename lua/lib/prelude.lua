-- lib/prelude.lua — inserted into every script right after its shebang line,
-- and followed by the table F of stream field codes (src/redis/field.rs):
-- scripts write F.kind, F.product…, which the service reads back.
--
-- Idempotency (README: "The scope of a request id"). A writing script takes
--   KEYS[1]  the request's idempotency record, in the slot of its data
--   ARGV[1]  the request's fingerprint ('' when the caller sent no request id)
--   ARGV[2]  how long the record lives, in milliseconds
-- It calls rmw_replay() before it reads or writes anything else (which
-- also checks the TTL), returns its reply when there is one, and passes
-- every reply that changed data through rmw_commit(), as its very last
-- write. Replies that changed nothing are not
-- recorded, so a retry of a refused request is evaluated again.
--
-- Records are MessagePack ({fingerprint, reply}): unlike cjson, which prints
-- 14 significant digits, it keeps every integer up to 2^53 and every byte of
-- a value exact.

-- The service's settings that a script hands to Redis (the TTL in
-- ARGV[2], a stream's retention) are checked before the script's first write:
-- Redis refuses an out-of-range `SET … PX` or `XADD … MAXLEN` only when
-- that command runs, after the writes before it, which would break
-- all-or-nothing. The service bounds them at start-up (src/config/); this
-- is each script's own guard, and raises an error that writes nothing.
local RMW_MAX_TTL_MS = 315360000000 -- ten years
local RMW_MAX_SAFE = 9007199254740991 -- 2^53-1

local function rmw_setting(name, text, min, max)
  local n = tonumber(text)
  if not n or n ~= math.floor(n) or n < min or n > max then
    error('rmw: setting ' .. name .. ' out of range: ' .. tostring(text))
  end
  return n
end

-- Which entries a stream keeps, ARGV[3] of every script that appends to
-- one: the service's retention setting (src/ops/retention.rs). '' keeps
-- every entry; 'n:<count>' about the newest count (XADD ... MAXLEN ~);
-- 'age:<ms>' about those of the last ms milliseconds by Redis's clock
-- (XADD ... MINID ~). Checked before the script's first write; returns the
-- trimming arguments of rmw_xadd. Counts and ids stay strings: a Lua number
-- past 2^53 would print rounded.
local function rmw_retention()
  local text = ARGV[3]
  if text == '' then
    return {}
  end
  local kind, n = string.match(text, '^(%a+):(%d+)$')
  if kind == 'n' then
    rmw_setting('stream retention', n, 1, RMW_MAX_SAFE)
    return {'MAXLEN', '~', n}
  elseif kind == 'age' then
    local age = rmw_setting('stream retention', n, 1, RMW_MAX_TTL_MS)
    local now = redis.call('TIME')
    local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - age
    return {'MINID', '~', string.format('%d-0', math.max(ms, 0))}
  end
  error('rmw: setting stream retention out of range: ' .. tostring(text))
end

-- XADD key [trim] * field value ...
local function rmw_xadd(key, trim, ...)
  local args = {'XADD', key}
  for _, arg in ipairs(trim) do
    args[#args + 1] = arg
  end
  args[#args + 1] = '*'
  for _, arg in ipairs({...}) do
    args[#args + 1] = arg
  end
  return redis.call(unpack(args))
end

-- A record's key as its caller named it: `<prefix>:rec:<key>` without the
-- prefix, which holds no ':'.
local function rmw_record_key(key)
  return string.match(key, '^[^:]*:rec:(.*)$')
end

local function rmw_replay(key, fingerprint)
  rmw_setting('idempotency TTL', ARGV[2], 1, RMW_MAX_TTL_MS)
  if fingerprint == '' then
    return nil
  end
  local stored = redis.call('GET', key)
  if not stored then
    return nil
  end
  local record = cmsgpack.unpack(stored)
  if record[1] ~= fingerprint then
    return {'request_id_reused'}
  end
  -- The record itself too: a script may have marked it since (a cancelled
  -- order), which changes what a retry must be told.
  return {'replayed', record[2]}, record
end

local function rmw_commit(key, fingerprint, ttl_ms, reply)
  if fingerprint ~= '' then
    redis.call('SET', key, cmsgpack.pack({fingerprint, reply}), 'PX', ttl_ms)
  end
  return reply
end
