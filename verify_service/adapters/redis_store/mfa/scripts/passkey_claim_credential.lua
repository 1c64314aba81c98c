-- Claim a credential id for a factor in the service's credential index, compare-and-set:
-- the entry is written only if it is still what the caller read (ARGV[3]: '' for none, or
-- an entry whose factor the caller found gone). Of two registrations of one credential
-- racing (two entities' VerifyFactor), exactly one claims it; the other is refused and its
-- factor stays unverified. Run before passkey_verify_factor.lua (the entity's slot); a claim
-- whose factor then fails to verify is released (passkey_release_credential.lua).
-- KEYS[1] the service's credential index (hash)
-- ARGV[1] SHA-256 of the credential id (hex)   ARGV[2] "<identity> <factor sid>"
-- ARGV[3] the entry read before ('' when there was none)
-- Returns 1 when claimed, 0 when the entry changed meanwhile (another registration won)
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
