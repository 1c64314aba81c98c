-- Store a new template, unless the deployment has its maximum number of templates.
-- KEYS[1] template hash   KEYS[2] template index (sorted set)   KEYS[3] creation counter
-- KEYS[4] version counter
-- ARGV[1] template sid   ARGV[2] most templates   ARGV[3] the template (JSON)
-- Returns the template's position in creation order; 0 when the deployment has its maximum
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[3])
local position = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], position, ARGV[1])
redis.call('INCR', KEYS[4])
return position
