-- Delete a factor and its challenges (a challenge of a deleted factor could never be
-- answered; docs/mfa.md). Challenge keys are named from the sids in the entity's sorted
-- set and the prefix in ARGV, all under KEYS[1]'s hash tag.
-- KEYS[1] factor hash   KEYS[2] the entity's factors   KEYS[3] the entity's challenges
-- ARGV[1] factor sid   ARGV[2] challenge key prefix
-- Returns 1 when the factor existed, else 0
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
for _, sid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local key = ARGV[2] .. sid
  local factor = redis.call('HGET', key, 'factor_sid')
  if factor == ARGV[1] or not factor then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[3], sid)
  end
end
return existed
