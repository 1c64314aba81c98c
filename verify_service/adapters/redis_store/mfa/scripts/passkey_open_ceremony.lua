-- Open a passkey ceremony (a factor's registration or a challenge's sign-in): the record a
-- browser's answer finds by the SHA-256 of its challenge. It is answerable until its
-- `expires_ms` (checked against the caller's clock by passkey_claim_ceremony.lua) and is
-- removed by Redis a little after (ARGV[1], so a clock a few seconds off still reads it).
-- A discoverable sign-in (KEYS[2] given) is also counted in the service's open discoverable
-- ceremonies, a sorted set of tags by `expires_ms`: past ARGV[3] open ones (those not
-- claimed nor expired at ARGV[4], the caller's now) nothing is opened.
-- KEYS[1] the ceremony hash   KEYS[2] (discoverable only) the open discoverable ceremonies
-- ARGV[1] ttl ms   ARGV[2] tag   ARGV[3] most open discoverable ceremonies   ARGV[4] now ms
-- ARGV[5] expires ms   ARGV[6..] field, value pairs
-- Returns {'opened'}; {'collided'} when a ceremony with this challenge exists (a 256-bit
-- collision: never); {'too_many', the earliest open one's expires ms} when the service has
-- the most open discoverable ceremonies
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'collided'}
end
if #KEYS > 1 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
    return {'too_many', redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]}
  end
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {'opened'}
