-- Every provider failed: move the delivery to the dead-letter list an operator inspects and
-- requeues from the CLI. The list is bounded; the oldest letters fall off.
-- KEYS[1] stream   KEYS[2] dead-letter index (list of attempt sids)   KEYS[3] dead letters (hash)
-- ARGV[1] group   ARGV[2] stream entry id   ARGV[3] attempt sid
-- ARGV[4] letter ('failed ms|channel|reason')   ARGV[5] sealed job   ARGV[6] bound
-- Returns 1 when the entry was still pending for the group, else 0
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5], ARGV[3] .. ':why', ARGV[4])
redis.call('LPUSH', KEYS[2], ARGV[3])
local bound = tonumber(ARGV[6])
local dropped = redis.call('LRANGE', KEYS[2], bound, -1)
for _, attempt in ipairs(dropped) do
  redis.call('HDEL', KEYS[3], attempt, attempt .. ':why')
end
redis.call('LTRIM', KEYS[2], 0, bound - 1)
return 1
