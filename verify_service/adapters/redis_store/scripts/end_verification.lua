-- End a live verification, as approved (a right code, or an update) or canceled (an
-- update). Succeeds once: the hash is deleted in the same step, so of any number of
-- concurrent right codes exactly one ends it, and the others find it gone.
-- KEYS[1] verification hash
-- ARGV[1] now (ms)   ARGV[2] sid   ARGV[3] outcome ('approved' or 'canceled')
-- Returns {outcome, HGETALL} | {'missing'}
local key = KEYS[1]
local current = redis.call('HMGET', key, 'sid', 'ex')
if not current[1] or current[1] ~= ARGV[2] then
  return {'missing'}
end
if tonumber(current[2]) <= tonumber(ARGV[1]) then
  redis.call('DEL', key)
  return {'missing'}
end
local fields = redis.call('HGETALL', key)
redis.call('DEL', key)
return {ARGV[3], fields}
