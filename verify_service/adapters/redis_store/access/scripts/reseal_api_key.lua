-- Re-MAC an API key under another ring key (a reseal, or a key from before key ids upgraded
-- when it is used), only if its digest is still the one the caller read (compare-and-set):
-- a concurrent revoke or reseal wins, and a deleted key is never re-created.
-- KEYS[1] the key's hash
-- ARGV[1] the digest read   ARGV[2] 'h'   ARGV[3] the new digest   ARGV[4] 'k'
-- ARGV[5] the key id   ARGV[6] 'p'   ARGV[7] the wrapped proof
-- Returns 1 when replaced, 0 when the key changed or is gone
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
return 1
