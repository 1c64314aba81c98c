-- Count a wrong password for a console user; the failure that reaches the maximum locks it
-- (until `verify-service user unlock`). Concurrent failures are each counted once.
-- KEYS[1] the user's hash
-- ARGV[1] maximum failures in a row   ARGV[2] now (ms)
-- Returns 1 when this failure locked the user, else 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'lf', ARGV[2])
if failures >= tonumber(ARGV[1]) and redis.call('HGET', KEYS[1], 'locked') ~= '1' then
  redis.call('HSET', KEYS[1], 'locked', '1', 'la', ARGV[2])
  return 1
end
return 0
