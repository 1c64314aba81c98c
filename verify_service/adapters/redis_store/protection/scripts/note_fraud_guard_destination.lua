-- Remember a masked destination among its Fraud Guard prefix's most recent ones (what a
-- trip shows as "the numbers that caused it").
-- KEYS[1] the prefix's list of recent masked destinations
-- ARGV[1] masked destination, ARGV[2] how many to keep, ARGV[3] seconds to keep the list
-- Returns 1.
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
