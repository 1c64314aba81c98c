-- Delete a Verify Service. Its pending verifications become unreachable (every use of
-- one first reads the service) and expire with their own TTL.
-- KEYS[1] service hash   KEYS[2] service index
-- ARGV[1] sid
-- Returns 1 when the service existed, else 0
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
