-- Delete a Verify Service and its Rate Limits. Its pending verifications become unreachable
-- (every use of one first reads the service) and expire with their own TTL.
-- KEYS[1] service hash   KEYS[2] service index   KEYS[3] the service's rate-limit hash
-- ARGV[1] sid
-- Returns 1 when the service existed, else 0
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
