-- Index a verified passkey by its credential id (a discoverable sign-in names no identity:
-- the credential finds its factor). One hash per service, so deleting the service deletes
-- the index at once. Written after passkey_verify_factor.lua, in the service's slot; a
-- look-up tolerates an entry whose factor is gone (deleted since).
-- KEYS[1] the service's credential index (hash)
-- ARGV[1] SHA-256 of the credential id (hex)   ARGV[2] "<identity> <factor sid>"
-- Returns 1
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
