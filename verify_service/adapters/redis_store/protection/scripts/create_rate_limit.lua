-- Create a service's Rate Limit: refused when the service is gone, when the UniqueName is
-- taken in the service, or when the service already has its maximum number of rate limits.
-- Checked and written in one step, so concurrent creates cannot pass the checks together.
-- KEYS[1] service hash   KEYS[2] the service's rate-limit hash (field = RK sid, value = JSON)
-- ARGV[1] rate limit sid   ARGV[2] unique name   ARGV[3] the rate limit as JSON
-- ARGV[4] most rate limits per service
-- Returns 'done', or why not: 'not_found' (no service), 'duplicate' (name taken), 'full'
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'not_found'
end
local records = redis.call('HVALS', KEYS[2])
for _, raw in ipairs(records) do
  if cjson.decode(raw).unique_name == ARGV[2] then
    return 'duplicate'
  end
end
if #records >= tonumber(ARGV[4]) then
  return 'full'
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 'done'
