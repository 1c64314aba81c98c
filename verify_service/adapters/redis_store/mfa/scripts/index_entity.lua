-- List an entity in its service's entity list, in creation order (a counter, like the
-- service index), unless it is listed already. Run after every create of an entity or a
-- factor, so an entity whose first listing was lost (a crash between the two scripts) is
-- listed again by its next change.
-- KEYS[1] the service's entity list (sorted set)   KEYS[2] its counter
-- ARGV[1] identity
-- Returns the entity's position
local position = redis.call('ZSCORE', KEYS[1], ARGV[1])
if position then
  return tonumber(position)
end
position = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], position, ARGV[1])
return position
