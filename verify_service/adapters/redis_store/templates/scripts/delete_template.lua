-- Delete a stored template and its index entry.
-- KEYS[1] template hash   KEYS[2] template index (sorted set)   KEYS[3] version counter
-- ARGV[1] template sid
-- Returns 1 when deleted, 0 when the template did not exist
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
