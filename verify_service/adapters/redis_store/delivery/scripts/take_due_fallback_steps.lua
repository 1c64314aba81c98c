-- Take the channel fallback steps whose time has come, removing them in the same step, so
-- that of any number of workers exactly one takes each step. Looks at up to ARGV[2] due
-- entries, oldest first: those whose verification has expired are dropped here (no read of
-- the verification needed, another slot), the rest are handed out, up to ARGV[3] of them.
-- An entry written before expiries were recorded ('step|VL sid') is handed out: the runner
-- drops it when its verification has ended.
-- KEYS[1] due steps (sorted set: 'VA sid:VE sid' -> due ms)
-- KEYS[2] step details (hash: 'VA sid:VE sid' -> 'step|VL sid it follows|expiry ms')
-- ARGV[1] now (ms)   ARGV[2] most to look at   ARGV[3] most to hand out
-- Returns {entries looked at, verification, details, verification, details, ...}
local now = tonumber(ARGV[1])
local hand = tonumber(ARGV[3])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local taken = {0}
local handed = 0
for _, member in ipairs(due) do
  local details = redis.call('HGET', KEYS[2], member)
  local expires = details and tonumber(string.match(details, '^%d+|[^|]+|(%d+)$') or '')
  local live = details and (expires == nil or expires > now)
  if live and handed >= hand then
    break
  end
  taken[1] = taken[1] + 1
  redis.call('ZREM', KEYS[1], member)
  redis.call('HDEL', KEYS[2], member)
  if live then
    handed = handed + 1
    taken[#taken + 1] = member
    taken[#taken + 1] = details
  end
end
return taken
