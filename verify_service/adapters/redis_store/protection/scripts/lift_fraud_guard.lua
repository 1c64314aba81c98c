-- Lift a Fraud Guard trip before its cool-down ends (an operator's decision).
-- KEYS[1] the prefix's block record, KEYS[2] the service's index of trips
-- ARGV[1] prefix
-- Returns 1 when a trip was lifted, 0 when none was in force.
local lifted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return lifted
