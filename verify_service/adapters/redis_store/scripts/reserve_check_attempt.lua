-- Count one check attempt before the code is verified (in Python, with argon2id). The
-- attempt counts even if the caller dies before verifying: a crash never refunds a guess.
-- KEYS[1] verification hash
-- ARGV[1] now (ms)   ARGV[2] expected sid ('' when checked by To)
-- ARGV[3] max checks ARGV[4] '1' when the check carries Amount and Payee
-- Returns {'reserved', HGETALL} | {'missing'} | {'locked', ms left} | {'psd2_required'}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local current = redis.call('HMGET', key, 'sid', 'ex', 'c', 'am')
if not current[1] then
  return {'missing'}
end
if tonumber(current[2]) <= now then
  redis.call('DEL', key)
  return {'missing'}
end
if ARGV[2] ~= '' and current[1] ~= ARGV[2] then
  return {'missing'}
end
if tonumber(current[3]) >= tonumber(ARGV[3]) then
  return {'locked', tonumber(current[2]) - now}
end
if current[4] and ARGV[4] ~= '1' then
  return {'psd2_required'}
end
redis.call('HINCRBY', key, 'c', 1)
redis.call('HSET', key, 'ua', ARGV[1])
return {'reserved', redis.call('HGETALL', key)}
