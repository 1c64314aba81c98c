-- Approve a passkeys challenge with a verified assertion: the factor (a verified passkeys
-- factor with this credential) takes the new sign count only if it is above the stored one,
-- or both are 0 (WebAuthn 6.1.1; compare-and-set against a concurrent sign-in), and its
-- last use; the challenge becomes approved. A discoverable sign-in's challenge had no entity
-- yet: it is written now (ARGV[7..]), approved.
-- KEYS[1] factor hash   KEYS[2] challenge hash   KEYS[3] the entity's challenges
-- KEYS[4] the entity's pending passkeys challenges (the approved one leaves it)
-- ARGV[1] now ms   ARGV[2] credential id   ARGV[3] new sign count   ARGV[4] metadata JSON
-- ARGV[5] challenge ttl ms   ARGV[6] challenge sid   ARGV[7..] a new challenge's fields
-- Returns {'gone'} | {'not_verified'} | {'not_pending'} | {'regressed'}
--   | {'accepted', challenge HGETALL, factor HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local f = redis.call('HMGET', KEYS[1], 'type', 'status', 'pk_credential_id', 'pk_sign_count')
if f[1] ~= 'passkeys' or f[3] ~= ARGV[2] then
  return {'gone'}
end
if f[2] ~= 'verified' then
  return {'not_verified'}
end
local stored = tonumber(f[4] or '0')
local count = tonumber(ARGV[3])
if not (count > stored or (count == 0 and stored == 0)) then
  return {'regressed'}
end
local exists = redis.call('EXISTS', KEYS[2]) == 1
if exists then
  if redis.call('HGET', KEYS[2], 'status') ~= 'pending' then
    return {'not_pending'}
  end
elseif #ARGV < 7 then
  return {'gone'}
else
  redis.call('HSET', KEYS[2], unpack(ARGV, 7))
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[1], ARGV[6])
end
redis.call('HSET', KEYS[1], 'pk_sign_count', ARGV[3], 'last_used_ms', ARGV[1],
  'metadata', ARGV[4])
redis.call('ZREM', KEYS[4], ARGV[6])
redis.call('HSET', KEYS[2], 'status', 'approved', 'responded_ms', ARGV[1],
  'updated_ms', ARGV[1], 'factor_sid', redis.call('HGET', KEYS[1], 'sid'))
return {'accepted', redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[1])}
