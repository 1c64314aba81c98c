-- Create a challenge for a verified factor; with an evaluated code (ARGV[2] not ''), answer
-- it at once as answer_challenge.lua does (both wrong-code windows in Redis's time). Refused
-- ('locked', 'changed', 'full', ...) stores nothing. A challenge that stays pending (no code,
-- or a wrong one) needs a free place among the entity's pending challenges (at most
-- ARGV[11], those not yet expired by ARGV[12]). The challenge hash expires ARGV[8] ms from
-- now (its expiration date plus the retention); challenges created before ARGV[9] have
-- expired and leave the entity's list, which keeps at most its ARGV[13] newest entries.
-- KEYS[1] factor hash   KEYS[2] challenge hash   KEYS[3] the entity's challenges
-- KEYS[4] the entity's wrong codes   KEYS[5] the entity's pending challenges ('<YF>:<YC>')
-- ARGV[1] now ms   ARGV[2] factor version or '' (no code)   ARGV[3] matched step or ''
-- ARGV[4] most wrong codes per factor   ARGV[5] its window ms
-- ARGV[6] most wrong codes per entity   ARGV[7] its window ms   ARGV[8] challenge ttl ms
-- ARGV[9] prune-before ms   ARGV[10] challenge sid   ARGV[11] most pending challenges
-- ARGV[12] the challenge's expiration ms   ARGV[13] most listed challenges
-- ARGV[14..] challenge field, value pairs
-- Returns {'gone'} | {'not_verified'} | {'changed'} | {'full', ms until one expires}
--   | {'locked', ms, 'factor' | 'entity'}
--   | {'pending' | 'wrong' | 'replayed' | 'accepted', challenge HGETALL, wrong codes counted}
-- (wrong codes counted, with 'wrong': the factor's in its window, this one included; else 0)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local f = redis.call('HMGET', KEYS[1], 'status', 'version', 'wrong_codes', 'wrong_start_ms',
  'totp_last_step', 'sid')
if f[1] ~= 'verified' then
  return {'not_verified'}
end
local outcome = 'pending'
local wrong, day_wrong, t, clock
local counted = 0
if ARGV[2] ~= '' then
  if f[2] ~= ARGV[2] then
    return {'changed'}
  end
  t = redis.call('TIME')
  clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local window = tonumber(ARGV[5])
  wrong = tonumber(f[3] or '0')
  local start = tonumber(f[4] or '0')
  if wrong > 0 and clock >= start + window then
    wrong = 0
    redis.call('HSET', KEYS[1], 'wrong_codes', 0)
    redis.call('HDEL', KEYS[1], 'wrong_start_ms')
  end
  local day = tonumber(ARGV[7])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', clock - day)
  day_wrong = redis.call('ZCARD', KEYS[4])
  local wait, scope = 0, 'factor'
  if wrong >= tonumber(ARGV[4]) then
    wait = start + window - clock
  end
  if day_wrong >= tonumber(ARGV[6]) then
    local ends = tonumber(redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2]) + day - clock
    if ends > wait then
      wait, scope = ends, 'entity'
    end
  end
  if wait > 0 then
    return {'locked', wait, scope}
  end
  if ARGV[3] == '' then
    outcome = 'wrong'
  elseif f[5] and tonumber(ARGV[3]) <= tonumber(f[5]) then
    outcome = 'replayed'
  else
    outcome = 'accepted'
  end
end
local member = f[6] .. ':' .. ARGV[10]
if outcome == 'pending' or outcome == 'wrong' then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[1])
  if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[11]) then
    local first = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
    return {'full', tonumber(first[2]) - tonumber(ARGV[1])}
  end
  redis.call('ZADD', KEYS[5], ARGV[12], member)
  redis.call('PEXPIRE', KEYS[5], ARGV[8])
end
if outcome == 'wrong' then
  if wrong == 0 then
    redis.call('HSET', KEYS[1], 'wrong_start_ms', clock)
  end
  counted = redis.call('HINCRBY', KEYS[1], 'wrong_codes', 1)
  redis.call('ZADD', KEYS[4], clock, string.format('%s.%06d:%d', t[1], tonumber(t[2]), day_wrong))
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
elseif outcome == 'accepted' then
  redis.call('HSET', KEYS[1], 'totp_last_step', ARGV[3], 'last_used_ms', ARGV[1],
    'wrong_codes', 0)
  redis.call('HDEL', KEYS[1], 'wrong_start_ms')
end
redis.call('HSET', KEYS[2], unpack(ARGV, 14))
if outcome == 'accepted' then
  redis.call('HSET', KEYS[2], 'status', 'approved', 'responded_ms', ARGV[1])
elseif outcome == 'replayed' then
  redis.call('HSET', KEYS[2], 'status', 'denied', 'responded_ms', ARGV[1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[9])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[10])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -1 - tonumber(ARGV[13]))
return {outcome, redis.call('HGETALL', KEYS[2]), counted}
