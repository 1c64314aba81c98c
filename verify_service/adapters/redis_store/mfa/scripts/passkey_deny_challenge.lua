-- Deny a pending passkeys challenge whose answer failed a check (its ceremony is already
-- claimed, so it could never be approved: it reads denied rather than pending).
-- KEYS[1] challenge hash   KEYS[2] the entity's pending passkeys challenges
-- ARGV[1] now ms   ARGV[2] challenge sid
-- Returns 1 when denied, 0 when it was gone or no longer pending
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'denied', 'responded_ms', ARGV[1], 'updated_ms', ARGV[1])
return 1
