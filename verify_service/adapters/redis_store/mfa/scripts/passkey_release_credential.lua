-- Release a credential claim whose factor did not become verified (gone, or verified
-- meanwhile by another answer): removed only if it is still this factor's entry.
-- KEYS[1] the service's credential index (hash)
-- ARGV[1] SHA-256 of the credential id (hex)   ARGV[2] "<identity> <factor sid>"
-- Returns 1 when released, 0 when the entry was not this factor's
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
