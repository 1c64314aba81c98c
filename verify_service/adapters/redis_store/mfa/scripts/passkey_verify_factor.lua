-- Record a verified passkey registration: the factor (still an unverified passkeys factor)
-- becomes verified with its credential (`pk_*` fields) and no longer expires.
-- KEYS[1] factor hash
-- ARGV[1] now ms   ARGV[2] metadata JSON   ARGV[3..] pk_* field, value pairs
-- Returns {'gone'} | {'not_pending'} | {'accepted', factor HGETALL}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
local f = redis.call('HMGET', KEYS[1], 'type', 'status')
if f[1] ~= 'passkeys' then
  return {'gone'}
end
if f[2] ~= 'unverified' then
  return {'not_pending'}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('HSET', KEYS[1], 'status', 'verified', 'updated_ms', ARGV[1], 'metadata', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('PERSIST', KEYS[1])
return {'accepted', redis.call('HGETALL', KEYS[1])}
