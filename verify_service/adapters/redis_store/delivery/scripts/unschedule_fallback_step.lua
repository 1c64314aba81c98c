-- Remove a verification's channel fallback step: it was approved or canceled. Sent in the
-- same pipeline as end_verification.lua (another slot under Redis Cluster). The member names
-- that very verification, so it is removed whether or not the end found it live: a step of
-- a verification that is not live is never sent.
-- KEYS[1] due steps (sorted set: 'VA sid:VE sid' -> due ms)
-- KEYS[2] step details (hash: 'VA sid:VE sid' -> 'step|VL sid it follows|expiry ms')
-- ARGV[1] verification ('VA sid:VE sid')
-- Returns 1 when a step was removed, else 0
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return removed
