-- Record an answer to a pending challenge, evaluated by the caller with the factor's
-- version ARGV[2]: the code matched time step ARGV[3], or none (''). A wrong code is counted
-- in the factor's window (verify_factor.lua) and the challenge stays pending (Twilio: a
-- wrong AuthPayload is no error and ends nothing); a replayed step (at or before the last
-- accepted one) denies the challenge; a right one approves it.
-- KEYS[1] challenge hash   KEYS[2] factor hash
-- ARGV[1] now ms   ARGV[2] factor version   ARGV[3] matched step or ''
-- ARGV[4] most wrong codes   ARGV[5] window ms   ARGV[6] metadata JSON or ''
-- Returns {'gone'} | {'not_pending'} | {'expired'} | {'not_verified'} | {'changed'}
--   | {'locked', ms} | {'wrong' | 'replayed' | 'accepted', challenge HGETALL, wrong codes counted}
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  return {'gone'}
end
local c = redis.call('HMGET', KEYS[1], 'status', 'expires_ms')
if c[1] ~= 'pending' then
  return {'not_pending'}
end
local now = tonumber(ARGV[1])
if now >= tonumber(c[2]) then
  return {'expired'}
end
local f = redis.call('HMGET', KEYS[2], 'status', 'version', 'wrong_codes', 'wrong_start_ms',
  'totp_last_step')
if f[1] ~= 'verified' then
  return {'not_verified'}
end
if f[2] ~= ARGV[2] then
  return {'changed'}
end
local window = tonumber(ARGV[5])
local wrong = tonumber(f[3] or '0')
local start = tonumber(f[4] or '0')
if wrong > 0 and now >= start + window then
  wrong = 0
  redis.call('HSET', KEYS[2], 'wrong_codes', 0)
  redis.call('HDEL', KEYS[2], 'wrong_start_ms')
end
if wrong >= tonumber(ARGV[4]) then
  return {'locked', start + window - now}
end
local outcome
local counted = 0 -- with 'wrong': the factor's wrong codes in its window, this one included
if ARGV[3] == '' then
  if wrong == 0 then
    redis.call('HSET', KEYS[2], 'wrong_start_ms', ARGV[1])
  end
  counted = redis.call('HINCRBY', KEYS[2], 'wrong_codes', 1)
  outcome = 'wrong'
elseif f[5] and tonumber(ARGV[3]) <= tonumber(f[5]) then
  redis.call('HSET', KEYS[1], 'status', 'denied', 'responded_ms', ARGV[1])
  outcome = 'replayed'
else
  redis.call('HSET', KEYS[2], 'totp_last_step', ARGV[3], 'last_used_ms', ARGV[1],
    'wrong_codes', 0)
  redis.call('HDEL', KEYS[2], 'wrong_start_ms')
  redis.call('HSET', KEYS[1], 'status', 'approved', 'responded_ms', ARGV[1])
  outcome = 'accepted'
end
redis.call('HSET', KEYS[1], 'updated_ms', ARGV[1])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'metadata', ARGV[6])
end
return {outcome, redis.call('HGETALL', KEYS[1]), counted}
