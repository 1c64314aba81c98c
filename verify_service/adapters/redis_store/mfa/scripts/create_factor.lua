-- Create a factor, and its entity when the identity has none (Twilio creates the entity
-- with its first factor). Factor sids whose hash is gone (an unverified factor expired)
-- leave the entity's list first, then the list's size is checked against the limit.
-- An unverified factor expires after ARGV[3] ms unless it is verified (verify_factor.lua).
-- KEYS[1] entity hash   KEYS[2] factor hash   KEYS[3] the entity's factors (sorted set)
-- ARGV[1] most factors per entity   ARGV[2] factor key prefix   ARGV[3] unverified ttl ms
-- ARGV[4] n, the number of entity field/value items that follow
-- ARGV[5 .. 4+n] the new entity's fields   ARGV[5+n ..] the factor's fields
-- Returns {0} at the limit, else {1 when the entity was created now else 0, factor HGETALL}
local n = tonumber(ARGV[4])
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5, 4 + n))
  created = 1
end
for _, sid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if redis.call('EXISTS', ARGV[2] .. sid) == 0 then
    redis.call('ZREM', KEYS[3], sid)
  end
end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[1]) then
  return {0}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 5 + n))
-- The factor names the entity that exists (its sid, not the one proposed).
redis.call('HSET', KEYS[2], 'entity_sid', redis.call('HGET', KEYS[1], 'sid'))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local created_ms = redis.call('HGET', KEYS[2], 'created_ms')
redis.call('ZADD', KEYS[3], created_ms, redis.call('HGET', KEYS[2], 'sid'))
return {created, redis.call('HGETALL', KEYS[2])}
