-- Create a Verify Service and list it in creation order.
-- KEYS[1] service hash   KEYS[2] service index (sorted set)
-- ARGV[1] sid   ARGV[2] created (ms)   ARGV[3..] field, JSON value pairs
-- Returns 1
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
