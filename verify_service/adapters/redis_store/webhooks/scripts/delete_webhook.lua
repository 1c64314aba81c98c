-- Delete a webhook and take it off its service's index.
-- KEYS[1] webhook hash   KEYS[2] the service's webhook index
-- ARGV[1] webhook sid
-- Returns 1 when the webhook existed, else 0
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
