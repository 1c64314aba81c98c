-- Index one send attempt in the attempt history, by creation time, and forget the entries
-- of every index it touches that are past the retention period (trimmed on write).
-- KEYS[1] all attempts (zset)        KEYS[2] the service's attempts (zset)
-- KEYS[3] the destination's attempts (zset, named by a keyed digest, never the destination)
-- KEYS[4] the verification's attempts (zset)
-- ARGV[1] now (ms): the attempt's creation time, its score   ARGV[2] attempt (VL) sid
-- ARGV[3] retention (ms)
-- Returns 1
local now = tonumber(ARGV[1])
local oldest = string.format('%d', now - tonumber(ARGV[3]))
local all = KEYS[1]
local service = KEYS[2]
local destination = KEYS[3]
local verification = KEYS[4]
redis.call('ZADD', all, ARGV[1], ARGV[2])
redis.call('ZADD', service, ARGV[1], ARGV[2])
redis.call('ZADD', destination, ARGV[1], ARGV[2])
redis.call('ZADD', verification, ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', all, '-inf', '(' .. oldest)
redis.call('ZREMRANGEBYSCORE', service, '-inf', '(' .. oldest)
redis.call('ZREMRANGEBYSCORE', destination, '-inf', '(' .. oldest)
redis.call('PEXPIRE', all, ARGV[3])
redis.call('PEXPIRE', service, ARGV[3])
redis.call('PEXPIRE', destination, ARGV[3])
redis.call('PEXPIRE', verification, ARGV[3])
return 1
