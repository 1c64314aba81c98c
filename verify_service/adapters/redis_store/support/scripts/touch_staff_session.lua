-- Resume a console session: refused (and deleted) when idle for longer than the timeout or
-- past its absolute end; otherwise its last activity moves to now. The Redis TTL (relative,
-- so clock skew does not matter) frees it; the times in ARGV decide.
-- KEYS[1] the session's hash
-- ARGV[1] now (ms)   ARGV[2] idle timeout (ms)
-- Returns {user name, csrf token, created ms, absolute end ms} | false
local now, idle = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'user', 'csrf', 'ca', 'ex', 'seen')
if not s[1] then
  return false
end
if now - tonumber(s[5]) > idle or now >= tonumber(s[4]) then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.min(idle, tonumber(s[4]) - now))
return {s[1], s[2], s[3], s[4]}
