-- Record an answer to a factor's verification (AuthPayload on the factor), evaluated by
-- the caller with the factor's version ARGV[2]: the code matched time step ARGV[3], or
-- none (''). Wrong codes are counted per factor in a window that starts with the first
-- wrong one (at ARGV[4] in ARGV[5] ms every answer is refused until it ends) and per entity
-- in a rolling window (at ARGV[6] within ARGV[7] ms, all its factors together). Both windows
-- are measured in Redis's time (TIME), the same for every app node; ARGV[1], the caller's
-- clock, dates the record. A matched step must be after the last accepted one (replay).
-- Verified: the factor no longer expires.
-- KEYS[1] factor hash   KEYS[2] the entity's wrong codes (sorted set: Redis ms)
-- ARGV[1] now ms   ARGV[2] factor version   ARGV[3] matched step or ''
-- ARGV[4] most wrong codes per factor   ARGV[5] its window ms
-- ARGV[6] most wrong codes per entity   ARGV[7] its window ms
-- Returns {'gone'} | {'changed'} | {'locked', ms until the binding window ends, 'factor' |
--   'entity'} | {'wrong' | 'replayed' | 'accepted', factor HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local f = redis.call('HMGET', KEYS[1], 'version', 'wrong_codes', 'wrong_start_ms',
  'totp_last_step')
if f[1] ~= ARGV[2] then
  return {'changed'}
end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[5])
local wrong = tonumber(f[2] or '0')
local start = tonumber(f[3] or '0')
if wrong > 0 and clock >= start + window then
  wrong = 0
  redis.call('HSET', KEYS[1], 'wrong_codes', 0)
  redis.call('HDEL', KEYS[1], 'wrong_start_ms')
end
local day = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', clock - day)
local day_wrong = redis.call('ZCARD', KEYS[2])
local wait, scope = 0, 'factor'
if wrong >= tonumber(ARGV[4]) then
  wait = start + window - clock
end
if day_wrong >= tonumber(ARGV[6]) then
  local ends = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]) + day - clock
  if ends > wait then
    wait, scope = ends, 'entity'
  end
end
if wait > 0 then
  return {'locked', wait, scope}
end
if ARGV[3] == '' then
  if wrong == 0 then
    redis.call('HSET', KEYS[1], 'wrong_start_ms', clock)
  end
  redis.call('HINCRBY', KEYS[1], 'wrong_codes', 1)
  redis.call('ZADD', KEYS[2], clock, string.format('%s.%06d:%d', t[1], tonumber(t[2]), day_wrong))
  redis.call('PEXPIRE', KEYS[2], day)
  return {'wrong', redis.call('HGETALL', KEYS[1])}
end
if f[4] and tonumber(ARGV[3]) <= tonumber(f[4]) then
  return {'replayed', redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'totp_last_step', ARGV[3], 'status', 'verified',
  'updated_ms', ARGV[1], 'last_used_ms', ARGV[1], 'wrong_codes', 0)
redis.call('HDEL', KEYS[1], 'wrong_start_ms')
redis.call('PERSIST', KEYS[1])
return {'accepted', redis.call('HGETALL', KEYS[1])}
