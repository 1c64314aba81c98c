-- Change a factor's friendly name or TOTP config, if it is still the version the caller
-- read (a concurrent change or evaluation is not overwritten); bumps the version, so an
-- evaluation made with the old config is not recorded.
-- KEYS[1] factor hash
-- ARGV[1] expected version   ARGV[2] now ms   ARGV[3..] field, value pairs
-- Returns {'gone'} | {'changed'} | {'accepted', factor HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then
  return {'changed'}
end
if #ARGV > 2 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
end
redis.call('HSET', KEYS[1], 'updated_ms', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
return {'accepted', redis.call('HGETALL', KEYS[1])}
