-- A worker's heartbeat: its member's score becomes the beat's time; members that have not
-- beaten for ARGV[3] ms are removed, and the key expires after as long, so the set holds
-- only the workers seen lately (bounded) and vanishes when none is left.
-- KEYS[1] heartbeats (sorted set: worker -> last beat, ms)
-- ARGV[1] worker name   ARGV[2] now (ms)   ARGV[3] forget after (ms)
-- Returns the number of workers in the set
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])
