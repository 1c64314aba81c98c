-- Delete a factor: its hash, its entry in the entity's factor list and its places among the
-- entity's pending challenges. Its challenges stay until they expire (docs/mfa.md,
-- "Deletes"): with their factor gone they are no longer fetched, listed or answered. Nothing
-- here depends on the challenge list, so no stream of challenge creations can hold it off.
-- KEYS[1] factor hash   KEYS[2] the entity's factors   KEYS[3] the entity's pending challenges
-- ARGV[1] factor sid
-- Returns 1 when the factor existed, 0 when not
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local prefix = ARGV[1] .. ':'
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix then
    redis.call('ZREM', KEYS[3], member)
  end
end
return existed
