-- lib/prelude.lua — inserted into every script right after its shebang line.
--
-- Idempotency (SPEC §4). A writing script takes
--   KEYS[1]  the request's idempotency record, in the slot of its data
--   ARGV[1]  the request's fingerprint ('' when the caller sent no request id)
--   ARGV[2]  how long the record lives, in milliseconds
-- It returns rmw_replay()'s reply, when there is one, before it reads
-- anything else, and passes every reply that changed data through
-- rmw_commit(), as its very last write. Replies that changed nothing are not
-- recorded, so a retry of a refused request is evaluated again.
--
-- Records are MessagePack ({fingerprint, reply}): unlike cjson, which prints
-- 14 significant digits, it keeps every integer up to 2^53 and every byte of
-- a value exact.

local function rmw_replay(key, fingerprint)
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
  return {'replayed', record[2]}
end

local function rmw_commit(key, fingerprint, ttl_ms, reply)
  if fingerprint ~= '' then
    redis.call('SET', key, cmsgpack.pack({fingerprint, reply}), 'PX', ttl_ms)
  end
  return reply
end
