-- Make a verification's next channel fallback step due now, because the delivery of the send
-- it follows failed on every provider. Only the step that follows that very send: a later
-- send has scheduled its own step, on its own time.
-- KEYS[1] due steps (sorted set: 'VA sid:VE sid' -> due ms)
-- KEYS[2] step details (hash: 'VA sid:VE sid' -> 'step|VL sid it follows|expiry ms')
-- ARGV[1] verification ('VA sid:VE sid')   ARGV[2] VL sid whose delivery failed
-- ARGV[3] now (ms)
-- Returns 1 when that send's step is now due, else 0
local details = redis.call('HGET', KEYS[2], ARGV[1])
if not details then
  return 0
end
local after = string.match(details, '^%d+|([^|]+)')
if after ~= ARGV[2] then
  return 0
end
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due then
  return 0
end
if tonumber(due) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
