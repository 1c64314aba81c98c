-- Change some fields of an existing webhook; the others keep their values.
-- KEYS[1] webhook hash
-- ARGV[1..] field, JSON value pairs (including date_updated_ms)
-- Returns the webhook's HGETALL, or {} when it does not exist
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
redis.call('HSET', KEYS[1], unpack(ARGV))
return redis.call('HGETALL', KEYS[1])
