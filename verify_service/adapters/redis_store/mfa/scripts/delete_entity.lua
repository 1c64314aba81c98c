-- Delete an entity with every factor and challenge it has (one slot: the entity's hash
-- tag). Factor and challenge keys are named from the sids in the entity's sorted sets and
-- the key prefixes in ARGV, all under KEYS[1]'s hash tag.
-- KEYS[1] entity hash   KEYS[2] its factors (sorted set)   KEYS[3] its challenges
-- ARGV[1] factor key prefix   ARGV[2] challenge key prefix
-- Returns 1 when the entity existed, else 0
local existed = redis.call('EXISTS', KEYS[1])
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. sid)
end
for _, sid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', ARGV[2] .. sid)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return existed
