-- Set fields of an existing console user (disable, enable, unlock, new password).
-- KEYS[1] the user's hash
-- ARGV[1] now (ms)   ARGV[2..] field, value pairs
-- Returns 1 when changed, 0 when there is no such user
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'ua', ARGV[1], unpack(ARGV, 2))
return 1
