-- Open a console session (named by the SHA-256 of its id, never the id itself).
-- KEYS[1] the session's hash
-- ARGV[1] idle timeout (ms)   ARGV[2..] field, value pairs
-- Returns 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
