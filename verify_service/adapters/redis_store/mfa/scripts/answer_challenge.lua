-- Record an answer to a pending challenge, evaluated by the caller with the factor's
-- version ARGV[2]: the code matched time step ARGV[3], or none (''). A wrong code is counted
-- in the factor's and the entity's windows (as verify_factor.lua: Redis's time) and the
-- challenge stays pending (Twilio: a wrong AuthPayload is no error and ends nothing); a
-- replayed step (at or before the last accepted one) denies the challenge; a right one
-- approves it. Metadata is stored only with the approval (a wrong or replayed answer's
-- device never sticks to the challenge a later right answer approves).
-- KEYS[1] challenge hash   KEYS[2] factor hash   KEYS[3] the entity's wrong codes
-- KEYS[4] the entity's pending challenges (sorted set of '<YF>:<YC>')
-- ARGV[1] now ms   ARGV[2] factor version   ARGV[3] matched step or ''
-- ARGV[4] most wrong codes per factor   ARGV[5] its window ms
-- ARGV[6] most wrong codes per entity   ARGV[7] its window ms   ARGV[8] metadata JSON or ''
-- Returns {'gone'} | {'not_pending'} | {'expired'} | {'not_verified'} | {'changed'}
--   | {'locked', ms, 'factor' | 'entity'}
--   | {'wrong' | 'replayed' | 'accepted', challenge HGETALL, wrong codes counted}
-- (wrong codes counted, with 'wrong': the factor's in its window, this one included; else 0)
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  return {'gone'}
end
local c = redis.call('HMGET', KEYS[1], 'status', 'expires_ms', 'sid', 'factor_sid')
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
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[5])
local wrong = tonumber(f[3] or '0')
local start = tonumber(f[4] or '0')
if wrong > 0 and clock >= start + window then
  wrong = 0
  redis.call('HSET', KEYS[2], 'wrong_codes', 0)
  redis.call('HDEL', KEYS[2], 'wrong_start_ms')
end
local day = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', clock - day)
local day_wrong = redis.call('ZCARD', KEYS[3])
local wait, scope = 0, 'factor'
if wrong >= tonumber(ARGV[4]) then
  wait = start + window - clock
end
if day_wrong >= tonumber(ARGV[6]) then
  local ends = tonumber(redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')[2]) + day - clock
  if ends > wait then
    wait, scope = ends, 'entity'
  end
end
if wait > 0 then
  return {'locked', wait, scope}
end
local outcome
local counted = 0 -- with 'wrong': the factor's wrong codes in its window, this one included
if ARGV[3] == '' then
  if wrong == 0 then
    redis.call('HSET', KEYS[2], 'wrong_start_ms', clock)
  end
  counted = redis.call('HINCRBY', KEYS[2], 'wrong_codes', 1)
  redis.call('ZADD', KEYS[3], clock, string.format('%s.%06d:%d', t[1], tonumber(t[2]), day_wrong))
  redis.call('PEXPIRE', KEYS[3], day)
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
if outcome ~= 'wrong' then
  redis.call('ZREM', KEYS[4], c[4] .. ':' .. c[3])
end
if outcome == 'accepted' and ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'metadata', ARGV[8])
end
return {outcome, redis.call('HGETALL', KEYS[1]), counted}
