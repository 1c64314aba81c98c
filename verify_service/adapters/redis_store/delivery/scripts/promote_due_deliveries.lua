-- Move delayed deliveries whose time has come back onto the stream, in one step, so a
-- delivery is never both delayed and queued, nor lost between the two.
-- KEYS[1] stream   KEYS[2] delayed (sorted set: member -> due ms)   KEYS[3] delayed jobs (hash)
-- ARGV[1] now (ms)   ARGV[2] most to move
-- Returns the number moved
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local job = redis.call('HGET', KEYS[3], member)
  local attempt, provider, try, queued = string.match(member, '^([^:]+):(%d+):(%d+):(%d+)$')
  if job and attempt then
    redis.call('XADD', KEYS[1], '*', 'att', attempt, 'job', job, 'p', provider, 't', try,
      'q', queued)
  end
  redis.call('HDEL', KEYS[3], member)
  redis.call('ZREM', KEYS[2], member)
end
return #due
