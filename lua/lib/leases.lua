-- lib/leases.lua — a lease's state, for the lease scripts and every fenced
-- write (`--@leases`). A lease is one hash, <prefix>:lse:<name>, which is
-- never deleted (its `last` token must outlive every grant):
--   last        the highest token the name ever granted
--   h:<token>   a current grant: '<expires at, ms by Redis's clock> <owner>'
-- A grant whose expiry Redis's clock has passed is dropped by the next
-- lease script that reads the lease, and no script counts it before that:
-- expiry needs no background job.
--
-- Tokens are strings of digits throughout: every token is below 2^53, so
-- tonumber() of one is exact, and string.format('%d') prints it back.

local function lease_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The grants of the lease at `key` that are current at `now`, soonest to
-- expire first, each {token, expires at, owner}; with `prune`, expired
-- ones are deleted.
local function lease_grants(key, now, prune)
  local flat = redis.call('HGETALL', key)
  local grants, dead = {}, {}
  for i = 1, #flat, 2 do
    local token = string.match(flat[i], '^h:(%d+)$')
    if token then
      local expires, owner = string.match(flat[i + 1], '^(%d+) (.*)$')
      expires = tonumber(expires)
      if expires > now then
        grants[#grants + 1] = {token, expires, owner}
      else
        dead[#dead + 1] = flat[i]
      end
    end
  end
  if prune and #dead > 0 then
    redis.call('HDEL', key, unpack(dead))
  end
  table.sort(grants, function(a, b)
    if a[2] ~= b[2] then
      return a[2] < b[2]
    end
    return tonumber(a[1]) < tonumber(b[1])
  end)
  return grants
end

-- The grants flattened for a reply: token, expires at, owner, ...
local function lease_flat(grants)
  local flat = {}
  for _, g in ipairs(grants) do
    flat[#flat + 1] = g[1]
    flat[#flat + 1] = string.format('%d', g[2])
    flat[#flat + 1] = g[3]
  end
  return flat
end

-- The newest current grant's token, '0' when none is current.
local function lease_newest(grants)
  local newest = 0
  for _, g in ipairs(grants) do
    newest = math.max(newest, tonumber(g[1]))
  end
  return string.format('%d', newest)
end

-- nil when `token` is a current grant of the lease at `key` ('' is no
-- fence: nothing to check); otherwise the reply of a fenced write,
-- {'fenced', the newest current token}. Called before the write's first
-- read or write of its data, so a fenced write changes nothing.
local function lease_fence(key, token)
  if token == '' then
    return nil
  end
  local now = lease_now()
  local grant = redis.call('HGET', key, 'h:' .. token)
  if grant and tonumber(string.match(grant, '^(%d+) ')) > now then
    return nil
  end
  return {'fenced', lease_newest(lease_grants(key, now, false))}
end
