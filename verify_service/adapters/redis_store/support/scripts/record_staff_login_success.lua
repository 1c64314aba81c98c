-- A right password: reset the failure count, note the sign-in, and replace the hash by one
-- made with the current parameters (only if the stored one is still the one verified, so a
-- password set meanwhile wins). A lock or disable that happened meanwhile wins too.
-- KEYS[1] the user's hash
-- ARGV[1] now (ms)   ARGV[2] the hash verified   ARGV[3] the new hash ('' to keep it)
-- Returns 1 when the sign-in may go on, 0 when the user is gone, locked or disabled
local user = redis.call('HMGET', KEYS[1], 'hash', 'locked', 'disabled')
if not user[1] or user[2] == '1' or user[3] == '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'failures', '0', 'll', ARGV[1])
if ARGV[3] ~= '' and user[1] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'hash', ARGV[3])
end
return 1
