-- Store a pending passkeys challenge of an entity (listed and fetched with the entity's
-- challenges); its ceremony is opened after, in the service's slot. Challenges created
-- before ARGV[3] have expired and leave the entity's list.
-- KEYS[1] entity hash   KEYS[2] challenge hash   KEYS[3] the entity's challenges
-- ARGV[1] now ms   ARGV[2] challenge ttl ms   ARGV[3] prune-before ms   ARGV[4] challenge sid
-- ARGV[5..] challenge field, value pairs
-- Returns {'gone'} | {'pending', challenge HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[4])
return {'pending', redis.call('HGETALL', KEYS[2])}
