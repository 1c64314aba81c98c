-- Revoke an API key: delete it and unlist it. The next request made with it finds no key and
-- is refused (401): nothing caches a key outside Redis.
-- KEYS[1] the key's hash   KEYS[2] the key index (sorted set)
-- ARGV[1] sid
-- Returns 1 when the key existed, else 0
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
