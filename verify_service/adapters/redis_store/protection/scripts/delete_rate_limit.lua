-- Delete a Rate Limit and its Buckets.
-- KEYS[1] service hash   KEYS[2] the service's rate-limit hash
-- ARGV[1] rate limit sid
-- Returns 1 when the rate limit existed, else 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
return redis.call('HDEL', KEYS[2], ARGV[1])
