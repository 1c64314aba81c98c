-- Delete a deleted service's webhooks: mark the service (no create succeeds after this),
-- delete the webhooks the caller read from the index, and, when none is left, the index
-- and the counter. The caller reads the index again while this returns more than 0.
-- KEYS[1] the service's webhook index   KEYS[2] its creation counter
-- KEYS[3] its deletion marker   KEYS[4..] webhook hashes (of the sids in ARGV[2..])
-- ARGV[1] how long the marker stays (ms)   ARGV[2..] webhook sids
-- Returns how many webhooks are still listed
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
for i = 4, #KEYS do
  redis.call('DEL', KEYS[i])
end
for i = 2, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return left
