-- lib/funds.lua — a book's pending transfers (holds of money), inserted
-- where a ledger script has the line `--@funds` (src/redis/scripts.rs),
-- after the prelude.
--
-- A book keeps, in its slot:
--   <base>bal        hash account -> posted balance, minor units
--   <base>pend_dr    hash account -> pending debits: money held from it
--   <base>pend_cr    hash account -> pending credits: money held for it
--   <base>holds      sorted set hold id -> expiry, ms of Redis's clock
--   <base>hold:<id>  a hold's record
-- where <base> is '<p>:led:{<book>}:'. available = posted - pending debits:
-- what a debit, a transfer or a new hold may take. A hold's record is
-- MessagePack {fingerprint, reply, state, expires_at, from, to, amount,
-- ended_at, posted}: state 'held', 'posted', 'voided' or 'expired';
-- ended_at 0 and posted 0 until it ends. An active hold's record never
-- expires; an ended one lives as long as an idempotency record (ARGV[2]).
--
-- Expiry works as for stock holds (lib/holds.lua): every script that
-- changes a book first ends up to FUNDS_EXPIRE_LIMIT of its due holds,
-- each once, with an entry of kind 'expire'; further due ones are left
-- out of every sum until ended; the service's sweep calls
-- ledger_expire_holds for books nobody touches. Keys reached without
-- being declared (due holds' records, their accounts' entries streams)
-- carry the book's hash tag, so they are in the script's slot.

local FUNDS_EXPIRE_LIMIT = 32

-- Redis's clock in ms, plus the skew (a setting: 0 but in tests).
local function funds_clock(f)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + f.skew * 1000
end

-- The book's state for the helpers below: its keys, its streams'
-- trimming (rmw_retention), Redis's clock plus `skew` seconds, and who is
-- calling (`by`, the principal its entries record; '' or nil for none).
local function funds_open(bal, entries, pdr, pcr, holds, trim, skew, by)
  local f = {
    bal = bal, entries = entries, pdr = pdr, pcr = pcr, holds = holds, trim = trim,
    base = string.sub(holds, 1, -6), ttl = ARGV[2], by = by or '',
    skew = rmw_setting('clock skew', skew, -315360000, 315360000),
    -- Holds not ended: with none (the common case) the pending hashes are
    -- empty and nothing is due, so the helpers below read neither, nor
    -- the clock.
    active = redis.call('ZCARD', holds),
  }
  return f
end

-- Now, by the clock funds_clock reads, read once per call.
local function funds_now(f)
  if not f.now then
    f.now = funds_clock(f)
  end
  return f.now
end

local function funds_load(f, id)
  local stored = redis.call('GET', f.base .. 'hold:' .. id)
  if not stored then
    return nil
  end
  return cmsgpack.unpack(stored)
end

local function funds_save(f, id, record, ended)
  local key = f.base .. 'hold:' .. id
  if ended then
    redis.call('SET', key, cmsgpack.pack(record), 'PX', f.ttl)
  else
    redis.call('SET', key, cmsgpack.pack(record))
  end
end

local function funds_posted(f, account)
  return tonumber(redis.call('HGET', f.bal, account) or '0')
end

-- An entry's fields with the caller's principal, when there is one.
local function funds_signed(f, fields)
  if f.by ~= '' then
    fields[#fields + 1] = F.by
    fields[#fields + 1] = f.by
  end
  return fields
end

-- Appends an entry to the book's stream and both accounts' streams, with
-- the caller's principal; the balances in it are posted balances.
local function funds_entry(f, kind, from, to, amount, fb, fa, tb, ta, reference, description, id)
  local fields = {F.kind, kind, F.from, from, F.to, to, F.amount, amount,
    F.from_before, fb, F.from_after, fa, F.to_before, tb, F.to_after, ta,
    F.reference, reference, F.description, description, F.request_id, id}
  -- An expiry is no caller's, whichever call noticed it.
  if kind ~= 'expire' then
    funds_signed(f, fields)
  end
  local entry = rmw_xadd(f.entries, f.trim, unpack(fields))
  rmw_xadd(f.base .. 'entries:' .. from, f.trim, F.id, entry, unpack(fields))
  rmw_xadd(f.base .. 'entries:' .. to, f.trim, F.id, entry, unpack(fields))
  return entry
end

local function funds_decr(key, account, amount)
  if redis.call('HINCRBY', key, account, 0 - amount) == 0 then
    redis.call('HDEL', key, account)
  end
end

-- Takes a hold's amount out of both pending sums.
local function funds_unpend(f, record)
  funds_decr(f.pdr, record[5], record[7])
  funds_decr(f.pcr, record[6], record[7])
end

-- Ends an active hold without posting it ('voided' or 'expired'); returns
-- its entry's id.
local function funds_end(f, id, record, state)
  funds_unpend(f, record)
  local fb, tb = funds_posted(f, record[5]), funds_posted(f, record[6])
  local entry = funds_entry(f, state == 'expired' and 'expire' or 'void', record[5], record[6],
    record[7], fb, fb, tb, tb, '', '', id)
  record[3] = state
  record[8] = state == 'expired' and record[4] or funds_now(f)
  redis.call('ZREM', f.holds, id)
  funds_save(f, id, record, true)
  return entry
end

-- The active hold `id` and nil, or nil and the reply that says why there
-- is none: not found, or ended (a due hold is ended here first, as
-- expired).
local function funds_active(f, id)
  local record = funds_load(f, id)
  if not record then
    return nil, {'not_found'}
  end
  local state = record[3]
  if state == 'held' and record[4] <= funds_now(f) then
    funds_end(f, id, record, 'expired')
    state = 'expired'
  end
  if state == 'posted' then
    return nil, {'already_posted'}
  elseif state == 'voided' then
    return nil, {'already_voided'}
  elseif state == 'expired' then
    return nil, {'expired', record[8]}
  end
  return record, nil
end

-- Money held by due holds not ended yet: {debits = {account -> units},
-- credits = {account -> units}}.
local function funds_due(f)
  local due = {debits = {}, credits = {}}
  if f.active == 0 then
    return due
  end
  for _, id in ipairs(redis.call('ZRANGE', f.holds, '-inf', funds_now(f), 'BYSCORE')) do
    local record = funds_load(f, id)
    if record then
      due.debits[record[5]] = (due.debits[record[5]] or 0) + record[7]
      due.credits[record[6]] = (due.credits[record[6]] or 0) + record[7]
    end
  end
  return due
end

-- Ends up to FUNDS_EXPIRE_LIMIT due holds; returns how many it ended and
-- funds_due() of the ones left for later.
local function funds_settle(f)
  if f.active == 0 then
    return 0, {debits = {}, credits = {}}
  end
  local due = redis.call('ZRANGE', f.holds, '-inf', funds_now(f), 'BYSCORE', 'LIMIT', 0,
    FUNDS_EXPIRE_LIMIT)
  for _, id in ipairs(due) do
    local record = funds_load(f, id)
    if record and record[3] == 'held' then
      funds_end(f, id, record, 'expired')
    else
      redis.call('ZREM', f.holds, id)
    end
  end
  if #due < FUNDS_EXPIRE_LIMIT then
    return #due, {debits = {}, credits = {}}
  end
  return #due, funds_due(f)
end

-- Per account, in order: {posted, pending debits, pending credits}, due
-- holds left out.
local function funds_levels(f, stale, accounts)
  local posted = redis.call('HMGET', f.bal, unpack(accounts))
  local dr = f.active > 0 and redis.call('HMGET', f.pdr, unpack(accounts)) or {}
  local cr = f.active > 0 and redis.call('HMGET', f.pcr, unpack(accounts)) or {}
  local levels = {}
  for i, account in ipairs(accounts) do
    levels[i] = {
      tonumber(posted[i] or '0'),
      tonumber(dr[i] or '0') - (stale.debits[account] or 0),
      tonumber(cr[i] or '0') - (stale.credits[account] or 0),
    }
  end
  return levels
end
