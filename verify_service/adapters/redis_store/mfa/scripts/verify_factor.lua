-- Record an answer to a factor's verification (AuthPayload on the factor), evaluated by
-- the caller with the factor's version ARGV[2]: the code matched time step ARGV[3], or
-- none (''). Wrong codes are counted per factor in a window that starts with the first
-- wrong one: at ARGV[4] in the window every answer is refused until it ends. A matched
-- step must be after the last accepted one (replay). Verified: the factor no longer expires.
-- KEYS[1] factor hash
-- ARGV[1] now ms   ARGV[2] factor version   ARGV[3] matched step or ''
-- ARGV[4] most wrong codes   ARGV[5] window ms
-- Returns {'gone'} | {'changed'} | {'locked', ms until the window ends}
--   | {'wrong' | 'replayed' | 'accepted', factor HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local f = redis.call('HMGET', KEYS[1], 'version', 'wrong_codes', 'wrong_start_ms',
  'totp_last_step')
if f[1] ~= ARGV[2] then
  return {'changed'}
end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[5])
local wrong = tonumber(f[2] or '0')
local start = tonumber(f[3] or '0')
if wrong > 0 and now >= start + window then
  wrong = 0
  redis.call('HSET', KEYS[1], 'wrong_codes', 0)
  redis.call('HDEL', KEYS[1], 'wrong_start_ms')
end
if wrong >= tonumber(ARGV[4]) then
  return {'locked', start + window - now}
end
if ARGV[3] == '' then
  if wrong == 0 then
    redis.call('HSET', KEYS[1], 'wrong_start_ms', ARGV[1])
  end
  redis.call('HINCRBY', KEYS[1], 'wrong_codes', 1)
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
