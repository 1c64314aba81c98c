-- Claim the expiry watches due by now: each is pushed back by a lease, so another worker
-- takes it only if this one dies before it is done (the worker removes it when done).
-- KEYS[1] due (sorted set: watch JSON -> due ms)
-- ARGV[1] now (ms)   ARGV[2] lease (ms)   ARGV[3] most to claim
-- Returns the claimed watches
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, watch in ipairs(due) do
  redis.call('ZADD', KEYS[1], until_ms, watch)
end
return due
