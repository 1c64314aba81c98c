-- Delete an entity with every factor and challenge it has (one slot: the entity's hash tag),
-- if its lists still hold the sids the caller read (else nothing is deleted: read again).
-- KEYS[1] entity hash   KEYS[2] its factors (sorted set)   KEYS[3] its challenges
-- KEYS[4..] the factor hashes, then the challenge hashes, of those sids
-- ARGV[1] f, the number of factor sids   ARGV[2 .. 1+f] factor sids (list order)
-- ARGV[2+f ..] challenge sids (list order)
-- Returns 1 when the entity existed, 0 when not, -1 when a list changed meanwhile
local function holds(list, first, last)
  if #list ~= last - first + 1 then
    return false
  end
  for i = 1, #list do
    if list[i] ~= ARGV[first + i - 1] then
      return false
    end
  end
  return true
end
local f = tonumber(ARGV[1])
if not holds(redis.call('ZRANGE', KEYS[2], 0, -1), 2, 1 + f)
    or not holds(redis.call('ZRANGE', KEYS[3], 0, -1), 2 + f, #ARGV) then
  return -1
end
local existed = redis.call('EXISTS', KEYS[1])
for i = 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return existed
