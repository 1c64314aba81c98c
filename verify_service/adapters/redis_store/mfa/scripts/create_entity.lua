-- Create an entity unless its identity has one (the service's entity list is written next
-- by index_entity.lua, in the service's own slot).
-- KEYS[1] entity hash
-- ARGV[1..] field, value pairs of the new entity
-- Returns {1 when created now else 0, the entity's HGETALL}
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return {1, redis.call('HGETALL', KEYS[1])}
