-- Remove one country's MessagingConfiguration from a Verify Service.
-- KEYS[1] service hash
-- ARGV[1] field (mc:<country>)   ARGV[2] creation field (mc:<country>:created)
-- Returns 1 when it existed, else 0
local existed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[2])
return existed
