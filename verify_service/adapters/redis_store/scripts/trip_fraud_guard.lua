-- Record a Fraud Guard trip of one prefix: at most one per prefix per cool-down.
-- KEYS[1] the prefix's block record (string, JSON), KEYS[2] the service's index of
--         trips (sorted set: prefix -> until ms)
-- ARGV[1] the record (JSON), ARGV[2] prefix, ARGV[3] until (ms), ARGV[4] now (ms),
-- ARGV[5] how long the index may outlive its newest entry (ms)
-- Returns 1 when this call tripped the prefix, 0 when a trip was already in force.
local ttl = tonumber(ARGV[3]) - tonumber(ARGV[4])
if ttl <= 0 then
  return 0
end
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl, 'NX') then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[5]))
return 1
