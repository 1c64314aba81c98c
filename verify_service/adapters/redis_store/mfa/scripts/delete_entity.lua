-- Delete an entity with every factor it has and the challenges its list holds (one slot: the
-- entity's hash tag), if its factor list still holds the sids the caller read (else nothing
-- is deleted: read again; factors change rarely, at most 20 per entity). The challenge list
-- is not compared: a challenge created between the caller's read and this script keeps its
-- hash until it expires, unreachable (its factor is gone: never fetched, listed or
-- answered), so no stream of challenge creations can hold a delete off (docs/mfa.md).
-- KEYS[1] entity hash   KEYS[2] its factors (sorted set)   KEYS[3] its challenges
-- KEYS[4] its wrong codes   KEYS[5] its pending challenges
-- KEYS[6..] the factor hashes, then the challenge hashes, of the listed sids
-- ARGV[1..] the factor sids (list order)
-- Returns 1 when the entity existed, 0 when not, -1 when the factor list changed meanwhile
local listed = redis.call('ZRANGE', KEYS[2], 0, -1)
if #listed ~= #ARGV then
  return -1
end
for i = 1, #listed do
  if listed[i] ~= ARGV[i] then
    return -1
  end
end
local existed = redis.call('EXISTS', KEYS[1])
for i = 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return existed
