-- Change a Bucket's Max and/or Interval; refused when another bucket of the rate limit
-- already has the new Interval.
-- KEYS[1] service hash   KEYS[2] the service's rate-limit hash
-- ARGV[1] rate limit sid   ARGV[2] bucket sid   ARGV[3] max ('' keeps it)
-- ARGV[4] interval in seconds ('' keeps it)   ARGV[5] now (ms)
-- Returns {status, rate limit JSON}: status 'done' (JSON after the change), or 'not_found',
-- 'duplicate' (JSON '')
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found', ''}
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return {'not_found', ''}
end
local rate_limit = cjson.decode(raw)
local bucket = rate_limit.buckets[ARGV[2]]
if not bucket then
  return {'not_found', ''}
end
if ARGV[4] ~= '' then
  local interval = tonumber(ARGV[4])
  for sid, other in pairs(rate_limit.buckets) do
    if sid ~= ARGV[2] and other.interval == interval then
      return {'duplicate', ''}
    end
  end
  bucket.interval = interval
end
if ARGV[3] ~= '' then
  bucket.max = tonumber(ARGV[3])
end
bucket.updated_ms = tonumber(ARGV[5])
raw = cjson.encode(rate_limit)
redis.call('HSET', KEYS[2], ARGV[1], raw)
return {'done', raw}
