-- Take a delivery off the stream and put it back later: a retry on the same provider after
-- a backoff, or the next provider of the failover list. Acknowledged in the same step, so a
-- crash leaves it either pending (and reclaimed) or delayed, never both or neither.
-- KEYS[1] stream   KEYS[2] delayed (sorted set)   KEYS[3] delayed jobs (hash)
-- ARGV[1] group   ARGV[2] stream entry id   ARGV[3] due (ms)
-- ARGV[4] member ('attempt:provider:try:queued ms')   ARGV[5] sealed job
-- Returns 1 when the entry was still pending for the group, else 0 (already acknowledged:
-- a worker that reclaimed it finished first)
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
