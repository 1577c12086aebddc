-- lib/holds.lua — a store's stock holds, inserted where an inventory script
-- has the line `--@holds` (src/redis/scripts.rs), after the prelude.
--
-- A store keeps, in its slot:
--   <base>stock      hash product -> units on hand
--   <base>held       hash product -> units held by holds not yet ended
--   <base>holds      sorted set hold id -> expiry, ms of Redis's clock
--   <base>order:<id> a hold's record, at the key an order of that id would
--                    have, so hold ids and order ids never collide
-- where <base> is '<p>:inv:{<store>}:'. available = on hand - held: what an
-- order or a new hold may take. A hold's record is MessagePack
--   {fingerprint, reply, state, expires_at, items, ended_at, placed}
-- (an order's is {fingerprint, reply[, 'cancelled']}): state is 'held',
-- 'committed', 'released', 'expired' or 'cancelled' (committed, then
-- undone by CancelOrder); items {{product, units}, ...}; ended_at 0 until
-- it ends; placed the order a commit made, as inventory_place_order
-- replies ({} before). An active hold's record never expires; an ended
-- one lives as long as an idempotency record (ARGV[2]).
--
-- Expiry is by Redis's clock only, and happens inside the scripts: every
-- script that changes a store first ends up to HOLDS_EXPIRE_LIMIT of its
-- due holds (expiry <= now), oldest first, each exactly once, with a
-- movement of kind 'expire'; holds due beyond that are subtracted from
-- what is held without being written (holds_settle), so an expired hold
-- is never counted. The service's sweep calls inventory_expire_holds for
-- stores nobody touches.
--
-- Keys the script was not given: the due holds' records and their
-- products' movements streams. They carry the store's hash tag, so they
-- are in the script's slot, which is all Redis Cluster requires of keys a
-- script reaches without declaring them.

local HOLDS_EXPIRE_LIMIT = 32

-- Redis's clock in ms, plus `skew` seconds (a setting: 0 but in tests).
local function holds_clock(skew)
  local s = rmw_setting('clock skew', skew, -315360000, 315360000)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + s * 1000
end

-- The store's state for the helpers below: its keys, its streams'
-- trimming (rmw_retention), the clock (holds_clock) and who is calling
-- (`by`, the principal its movements record; '' or nil for none).
-- `active` counts the holds not ended: with none (the common case) the
-- held hash is empty and nothing is due, so the helpers below read
-- neither.
local function holds_open(stock, moves, held, holds, trim, skew, by)
  rmw_setting('clock skew', skew, -315360000, 315360000)
  return {
    stock = stock, moves = moves, held = held, holds = holds, trim = trim,
    base = string.sub(held, 1, -5), ttl = ARGV[2], skew = skew, by = by or '',
    active = redis.call('ZCARD', holds),
  }
end

-- Now, by holds_clock, read once per call (and only when needed: a store
-- with no holds never reads the clock).
local function holds_now(s)
  if not s.now then
    s.now = holds_clock(s.skew)
  end
  return s.now
end

local function holds_load(s, id)
  local stored = redis.call('GET', s.base .. 'order:' .. id)
  if not stored then
    return nil
  end
  return cmsgpack.unpack(stored)
end

local function holds_save(s, id, record, ended)
  local key = s.base .. 'order:' .. id
  if ended then
    redis.call('SET', key, cmsgpack.pack(record), 'PX', s.ttl)
  else
    redis.call('SET', key, cmsgpack.pack(record))
  end
end

-- Appends a movement to the store's stream and the product's, with the
-- caller's principal when there is one (not on an expiry: no caller made
-- it, whichever call noticed it).
local function holds_move(s, kind, product, delta, before, after, held_delta, held, order)
  local fields = {F.kind, kind, F.product, product, F.delta, delta, F.before, before,
    F.after, after, F.order, order, F.held_delta, held_delta, F.held, held}
  if s.by ~= '' and kind ~= 'expire' then
    fields[#fields + 1] = F.by
    fields[#fields + 1] = s.by
  end
  local id = rmw_xadd(s.moves, s.trim, unpack(fields))
  rmw_xadd(s.base .. 'moves:' .. product, s.trim, F.id, id, unpack(fields))
end

-- Takes `units` of `product` out of what is held; returns what stays held.
local function holds_unhold(s, product, units)
  local left = redis.call('HINCRBY', s.held, product, -units)
  if left == 0 then
    redis.call('HDEL', s.held, product)
  end
  return left
end

-- Ends an active hold without committing it ('released' or 'expired'):
-- its units go back to available, one movement per product.
local function holds_end(s, id, record, state)
  local kind = state == 'expired' and 'expire' or 'release'
  for _, item in ipairs(record[5]) do
    local product, units = item[1], item[2]
    local left = holds_unhold(s, product, units)
    local on_hand = tonumber(redis.call('HGET', s.stock, product) or '0')
    holds_move(s, kind, product, 0, on_hand, on_hand, -units, left, id)
  end
  record[3] = state
  record[6] = state == 'expired' and record[4] or holds_now(s)
  redis.call('ZREM', s.holds, id)
  holds_save(s, id, record, true)
end

-- The active hold `id` and nil, or nil and the reply that says why there
-- is none: not found, or ended (a due hold is ended here first, as
-- expired).
local function holds_active(s, id)
  local record = holds_load(s, id)
  if not record or not record[4] then
    return nil, {'not_found'}
  end
  local state = record[3]
  if state == 'held' and record[4] <= holds_now(s) then
    holds_end(s, id, record, 'expired')
    state = 'expired'
  end
  if state == 'committed' or state == 'cancelled' then
    return nil, {'already_committed'}
  elseif state == 'released' then
    return nil, {'already_released'}
  elseif state == 'expired' then
    return nil, {'expired', record[6]}
  end
  return record, nil
end

-- Units held by due holds (expiry <= now) not ended yet, by product: what
-- is held but must not count.
local function holds_due(s)
  local due = {}
  if s.active == 0 then
    return due
  end
  for _, id in ipairs(redis.call('ZRANGE', s.holds, '-inf', holds_now(s), 'BYSCORE')) do
    local record = holds_load(s, id)
    for _, item in ipairs(record and record[5] or {}) do
      due[item[1]] = (due[item[1]] or 0) + item[2]
    end
  end
  return due
end

-- Ends up to HOLDS_EXPIRE_LIMIT due holds; returns how many it ended and
-- holds_due() of the ones left for later.
local function holds_settle(s)
  if s.active == 0 then
    return 0, {}
  end
  local due = redis.call('ZRANGE', s.holds, '-inf', holds_now(s), 'BYSCORE', 'LIMIT', 0,
    HOLDS_EXPIRE_LIMIT)
  for _, id in ipairs(due) do
    local record = holds_load(s, id)
    if record and record[3] == 'held' then
      holds_end(s, id, record, 'expired')
    else
      -- Its record is gone (deleted by hand): nothing left to release.
      redis.call('ZREM', s.holds, id)
    end
  end
  if #due < HOLDS_EXPIRE_LIMIT then
    return #due, {}
  end
  return #due, holds_due(s)
end

-- Per product of `products`, in order: {on hand, held, held by holds not
-- yet ended}. `held` leaves out due holds (`stale`, from holds_settle or
-- holds_due): it is what the caller is told and what available is
-- computed from. The third is what the held hash says, which the journal
-- records, so that a product's movements add up: each one's held is the
-- last one's plus its held_delta.
local function holds_levels(s, stale, products)
  local on_hand = redis.call('HMGET', s.stock, unpack(products))
  local held = s.active > 0 and redis.call('HMGET', s.held, unpack(products)) or {}
  local levels = {}
  for i, product in ipairs(products) do
    local recorded = tonumber(held[i] or '0')
    levels[i] = {tonumber(on_hand[i] or '0'), recorded - (stale[product] or 0), recorded}
  end
  return levels
end
