-- Create a Verify Service and list it in creation order. The order comes from a counter,
-- not the clock, so services created in the same millisecond (or on app hosts whose clocks
-- disagree) still list in the order Redis created them.
-- KEYS[1] service hash   KEYS[2] service index (sorted set)   KEYS[3] creation counter
-- ARGV[1] sid   ARGV[2..] field, JSON value pairs
-- Returns the service's position in creation order
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
local position = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[2], position, ARGV[1])
return position
