-- Take the channel fallback steps whose time has come, removing them in the same step, so
-- that of any number of workers exactly one takes each step.
-- KEYS[1] due steps (sorted set: 'VA sid:VE sid' -> due ms)
-- KEYS[2] step details (hash: 'VA sid:VE sid' -> 'step|VL sid of the send it follows')
-- ARGV[1] now (ms)   ARGV[2] most to take
-- Returns a flat list {verification, details, verification, details, ...}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local taken = {}
for _, member in ipairs(due) do
  local details = redis.call('HGET', KEYS[2], member)
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
  if details then
    taken[#taken + 1] = member
    taken[#taken + 1] = details
  end
end
return taken
