-- Replace a stored template's fields, if it still exists.
-- KEYS[1] template hash   KEYS[2] version counter
-- ARGV[1] the template (JSON)
-- Returns 1 when replaced, 0 when the template does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[1])
redis.call('INCR', KEYS[2])
return 1
