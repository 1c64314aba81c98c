-- Delete a factor and its challenges (a challenge of a deleted factor could never be
-- answered; docs/mfa.md), if the entity's challenge list still holds the sids the caller
-- read (else nothing is deleted: read again).
-- KEYS[1] factor hash   KEYS[2] the entity's factors   KEYS[3] the entity's challenges
-- KEYS[4..] the hashes of every challenge of the entity, in list order
-- ARGV[1] factor sid   ARGV[2..] the challenge sids, in list order
-- Returns 1 when the factor existed, 0 when not, -1 when the challenge list changed
local listed = redis.call('ZRANGE', KEYS[3], 0, -1)
if #listed ~= #ARGV - 1 then
  return -1
end
for i = 1, #listed do
  if listed[i] ~= ARGV[1 + i] then
    return -1
  end
end
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
for i = 4, #KEYS do
  local factor = redis.call('HGET', KEYS[i], 'factor_sid')
  if factor == ARGV[1] or not factor then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[3], ARGV[i - 2])
  end
end
return existed
