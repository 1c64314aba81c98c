-- Create a factor, and its entity when the identity has none (Twilio creates the entity
-- with its first factor). Factors whose hash is gone (an unverified factor expired) leave
-- the entity's list first, then the list's size is checked against the limit; the list must
-- still hold the sids the caller read (else nothing is done: read again). An unverified
-- factor expires after ARGV[2] ms unless it is verified (verify_factor.lua).
-- KEYS[1] entity hash   KEYS[2] factor hash   KEYS[3] the entity's factors (sorted set)
-- KEYS[4..] the hashes of the listed factors, in list order
-- ARGV[1] most factors per entity   ARGV[2] unverified ttl ms
-- ARGV[3] n, the number of entity field/value items   ARGV[4 .. 3+n] the new entity's fields
-- ARGV[4+n] m, the number of listed sids   ARGV[5+n .. 4+n+m] the listed sids (list order)
-- ARGV[5+n+m ..] the factor's field/value items
-- Returns {'changed'} | {'full'} | {1 when the entity was created now else 0, factor HGETALL}
local n = tonumber(ARGV[3])
local m = tonumber(ARGV[4 + n])
local listed = redis.call('ZRANGE', KEYS[3], 0, -1)
if #listed ~= m then
  return {'changed'}
end
for i = 1, m do
  if listed[i] ~= ARGV[4 + n + i] then
    return {'changed'}
  end
end
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 4, 3 + n))
  created = 1
end
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('ZREM', KEYS[3], ARGV[1 + n + i])
  end
end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[1]) then
  return {'full'}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 5 + n + m))
-- The factor names the entity that exists (its sid, not the one proposed).
redis.call('HSET', KEYS[2], 'entity_sid', redis.call('HGET', KEYS[1], 'sid'))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local created_ms = redis.call('HGET', KEYS[2], 'created_ms')
redis.call('ZADD', KEYS[3], created_ms, redis.call('HGET', KEYS[2], 'sid'))
return {created, redis.call('HGETALL', KEYS[2])}
