-- Change a Rate Limit's Description (the one field Twilio lets an update change).
-- KEYS[1] service hash   KEYS[2] the service's rate-limit hash
-- ARGV[1] rate limit sid   ARGV[2] now (ms)   ARGV[3] '1' to set the description, '0' to keep it
-- ARGV[4] the description
-- Returns the rate limit's JSON after the change, or false when it (or its service) is gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return false
end
local rate_limit = cjson.decode(raw)
if ARGV[3] == '1' then
  rate_limit.description = ARGV[4]
end
rate_limit.updated_ms = tonumber(ARGV[2])
raw = cjson.encode(rate_limit)
redis.call('HSET', KEYS[2], ARGV[1], raw)
return raw
