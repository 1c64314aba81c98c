-- Add a Bucket to a Rate Limit: refused when the rate limit (or its service) is gone, when
-- a bucket of the rate limit already has this Interval, or when it has its maximum number of
-- buckets. Checked and written in one step, so concurrent creates cannot pass together.
-- KEYS[1] service hash   KEYS[2] the service's rate-limit hash
-- ARGV[1] rate limit sid   ARGV[2] bucket sid   ARGV[3] max   ARGV[4] interval (s)
-- ARGV[5] now (ms)   ARGV[6] most buckets per rate limit
-- Returns {status, rate limit JSON}: status 'done' (JSON after the change), or 'not_found',
-- 'duplicate' (Interval taken), 'full' (JSON '')
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found', ''}
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return {'not_found', ''}
end
local rate_limit = cjson.decode(raw)
local interval = tonumber(ARGV[4])
local count = 0
for _, bucket in pairs(rate_limit.buckets) do
  if bucket.interval == interval then
    return {'duplicate', ''}
  end
  count = count + 1
end
if count >= tonumber(ARGV[6]) then
  return {'full', ''}
end
local now = tonumber(ARGV[5])
rate_limit.buckets[ARGV[2]] = {
  sid = ARGV[2], max = tonumber(ARGV[3]), interval = interval, created_ms = now, updated_ms = now,
}
raw = cjson.encode(rate_limit)
redis.call('HSET', KEYS[2], ARGV[1], raw)
return {'done', raw}
