-- Create a support console user (its password only as an argon2id hash) and list its name.
-- A name already taken changes nothing.
-- KEYS[1] the user's hash   KEYS[2] the set of user names
-- ARGV[1] name   ARGV[2..] field, value pairs
-- Returns 1 when created, 0 when the name exists already
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
