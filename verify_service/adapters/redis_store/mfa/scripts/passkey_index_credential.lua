-- Index a verified passkey by its credential id (a discoverable sign-in names no identity:
-- the credential finds its factor). Written after passkey_verify_factor.lua, in the
-- service's slot; a look-up tolerates an entry whose factor is gone (deleted since).
-- KEYS[1] the credential's look-up key
-- ARGV[1] "<identity> <factor sid>"
-- Returns 1
redis.call('SET', KEYS[1], ARGV[1])
return 1
