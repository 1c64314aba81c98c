-- Schedule the next channel fallback step of a verification, replacing the step it had: the
-- latest send of a verification decides when, and on which channel, the next one goes.
-- Sent in the same pipeline as start_or_resend.lua (another slot under Redis Cluster).
-- KEYS[1] due steps (sorted set: 'VA sid:VE sid' -> due ms)
-- KEYS[2] step details (hash: 'VA sid:VE sid' -> 'step|VL sid of the send it follows')
-- ARGV[1] verification ('VA sid:VE sid')   ARGV[2] due (ms)   ARGV[3] 'step|VL sid'
-- Returns 1
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
