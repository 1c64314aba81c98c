-- Delete a Bucket of a Rate Limit.
-- KEYS[1] service hash   KEYS[2] the service's rate-limit hash
-- ARGV[1] rate limit sid   ARGV[2] bucket sid
-- Returns 1 when the bucket existed, else 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return 0
end
local rate_limit = cjson.decode(raw)
if not rate_limit.buckets[ARGV[2]] then
  return 0
end
rate_limit.buckets[ARGV[2]] = nil
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(rate_limit))
return 1
