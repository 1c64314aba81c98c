-- Store a pending passkeys challenge of an entity (listed and fetched with the entity's
-- challenges); its ceremony is opened after, in the service's slot. Challenges created
-- before ARGV[3] have expired and leave the entity's list. The entity's pending passkeys
-- challenges (KEYS[4], sid by expires ms; an answer removes its own) are at most ARGV[5]:
-- past that nothing is stored until one is answered or expires.
-- KEYS[1] entity hash   KEYS[2] challenge hash   KEYS[3] the entity's challenges
-- KEYS[4] the entity's pending passkeys challenges
-- ARGV[1] now ms   ARGV[2] challenge ttl ms   ARGV[3] prune-before ms   ARGV[4] challenge sid
-- ARGV[5] most pending   ARGV[6] expires ms   ARGV[7] pending set ttl ms
-- ARGV[8..] challenge field, value pairs
-- Returns {'gone'} | {'too_many', the earliest pending one's expires ms}
--   | {'pending', challenge HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[5]) then
  return {'too_many', redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2]}
end
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[4])
redis.call('PEXPIRE', KEYS[4], ARGV[7])
redis.call('HSET', KEYS[2], unpack(ARGV, 8))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[4])
return {'pending', redis.call('HGETALL', KEYS[2])}
