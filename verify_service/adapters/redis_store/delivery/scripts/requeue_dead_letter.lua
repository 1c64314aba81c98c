-- Put a dead letter back on the stream, from the first provider with a fresh try count.
-- KEYS[1] stream   KEYS[2] dead-letter index   KEYS[3] dead letters (hash)
-- ARGV[1] attempt sid   ARGV[2] now (ms)
-- Returns the new stream entry id, or false when there is no such letter
local job = redis.call('HGET', KEYS[3], ARGV[1])
if not job then
  return false
end
local id = redis.call('XADD', KEYS[1], '*', 'att', ARGV[1], 'job', job, 'p', 0, 't', 0,
  'q', ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[1], ARGV[1] .. ':why')
redis.call('LREM', KEYS[2], 0, ARGV[1])
return id
