-- Create a challenge for a verified factor; with an evaluated code (ARGV[3] not ''), answer
-- it at once as answer_challenge.lua does. Refused ('locked', 'changed', ...) stores
-- nothing. The challenge hash expires ARGV[6] ms from now (its expiration date plus the
-- retention); challenges created before ARGV[7] have expired and leave the entity's list.
-- KEYS[1] factor hash   KEYS[2] challenge hash   KEYS[3] the entity's challenges
-- ARGV[1] now ms   ARGV[2] factor version or '' (no code)   ARGV[3] matched step or ''
-- ARGV[4] most wrong codes   ARGV[5] window ms   ARGV[6] challenge ttl ms
-- ARGV[7] prune-before ms   ARGV[8] challenge sid   ARGV[9..] challenge field, value pairs
-- Returns {'gone'} | {'not_verified'} | {'changed'} | {'locked', ms}
--   | {'pending' | 'wrong' | 'replayed' | 'accepted', challenge HGETALL, wrong codes counted}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local f = redis.call('HMGET', KEYS[1], 'status', 'version', 'wrong_codes', 'wrong_start_ms',
  'totp_last_step')
if f[1] ~= 'verified' then
  return {'not_verified'}
end
local now = tonumber(ARGV[1])
local outcome = 'pending'
local counted = 0 -- with 'wrong': the factor's wrong codes in its window, this one included
if ARGV[2] ~= '' then
  if f[2] ~= ARGV[2] then
    return {'changed'}
  end
  local window = tonumber(ARGV[5])
  local wrong = tonumber(f[3] or '0')
  local start = tonumber(f[4] or '0')
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
    counted = redis.call('HINCRBY', KEYS[1], 'wrong_codes', 1)
    outcome = 'wrong'
  elseif f[5] and tonumber(ARGV[3]) <= tonumber(f[5]) then
    outcome = 'replayed'
  else
    redis.call('HSET', KEYS[1], 'totp_last_step', ARGV[3], 'last_used_ms', ARGV[1],
      'wrong_codes', 0)
    redis.call('HDEL', KEYS[1], 'wrong_start_ms')
    outcome = 'accepted'
  end
end
redis.call('HSET', KEYS[2], unpack(ARGV, 9))
if outcome == 'accepted' then
  redis.call('HSET', KEYS[2], 'status', 'approved', 'responded_ms', ARGV[1])
elseif outcome == 'replayed' then
  redis.call('HSET', KEYS[2], 'status', 'denied', 'responded_ms', ARGV[1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[8])
return {outcome, redis.call('HGETALL', KEYS[2]), counted}
