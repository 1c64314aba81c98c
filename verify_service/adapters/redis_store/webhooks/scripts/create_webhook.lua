-- Create a webhook of a service, unless the service has its maximum number of webhooks or
-- is being deleted (its delete left KEYS[4]). Listed in creation order (a counter).
-- KEYS[1] webhook hash   KEYS[2] the service's webhook index (sorted set)
-- KEYS[3] the service's creation counter   KEYS[4] the service's deletion marker
-- ARGV[1] webhook sid   ARGV[2] most webhooks per service   ARGV[3..] field, JSON value pairs
-- Returns the webhook's position in creation order; 0 when the service has its maximum,
-- -1 when the service is being deleted
if redis.call('EXISTS', KEYS[4]) == 1 then
  return -1
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local position = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], position, ARGV[1])
return position
