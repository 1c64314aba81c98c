-- Schedule the next channel fallback step of a verification, replacing the step it had: the
-- latest send of a verification decides when, and on which channel, the next one goes.
-- Run once start_or_resend.lua has accepted the send (another slot under Redis Cluster): a
-- refused start schedules nothing.
-- Nothing here outlives its verification: the entry is due at the step's time or at the
-- verification's expiry, whichever comes first (take_due_fallback_steps.lua drops it then if
-- the verification expired), and both keys live at least as long as the latest-expiring
-- verification scheduled in them (the TTL only grows), so they go when the last one does.
-- KEYS[1] due steps (sorted set: 'VA sid:VE sid' -> due ms)
-- KEYS[2] step details (hash: 'VA sid:VE sid' -> 'step|VL sid it follows|expiry ms')
-- ARGV[1] verification ('VA sid:VE sid')   ARGV[2] due (ms)   ARGV[3] 'step|VL sid|expiry ms'
-- ARGV[4] the verification's expiry (ms)   ARGV[5] now (ms)
-- Returns 1
local expires = tonumber(ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], math.min(tonumber(ARGV[2]), expires), ARGV[1])
local ttl = expires - tonumber(ARGV[5])
if ttl < 1 then
  ttl = 1
end
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
