-- Point an existing MessagingConfiguration of a Verify Service at another route.
-- KEYS[1] service hash
-- ARGV[1] field (mc:<country>)   ARGV[2] JSON [route sid, updated ms]
-- ARGV[3] creation field (mc:<country>:created)
-- Returns the creation time (ms, as stored) when updated, or false when there is none
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return false
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[3])
