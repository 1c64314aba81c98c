-- Create an API key and list it in creation order (a counter, not the clock). The hash holds
-- the keyed digest of the secret, never the secret. A sid already taken changes nothing.
-- KEYS[1] the key's hash   KEYS[2] the key index (sorted set)   KEYS[3] creation counter
-- ARGV[1] sid   ARGV[2..] field, value pairs
-- Returns the key's position in creation order, or 0 when the sid exists already
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
local position = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], position, ARGV[1])
return position
