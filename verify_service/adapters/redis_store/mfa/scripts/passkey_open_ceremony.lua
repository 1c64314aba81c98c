-- Open a passkey ceremony (a factor's registration or a challenge's sign-in): the record a
-- browser's answer finds by the SHA-256 of its challenge. It is answerable until its
-- `expires_ms` (checked against the caller's clock by passkey_claim_ceremony.lua) and is
-- removed by Redis a little after (ARGV[1], so a clock a few seconds off still reads it).
-- KEYS[1] the ceremony hash
-- ARGV[1] ttl ms   ARGV[2..] field, value pairs
-- Returns 1, or 0 when a ceremony with this challenge exists (a 256-bit collision: never)
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
