-- Record a Fraud Guard trip of one prefix, unless a record of the same mode is in force (a
-- monitor-mode record gives way to a block when the service switches to block mode).
-- KEYS[1] the prefix's record (string, JSON), KEYS[2] the service's index of trips (sorted
--         set: prefix -> until ms)
-- ARGV[1] the record (JSON), ARGV[2] prefix, ARGV[3] until (ms), ARGV[4] now (ms),
-- ARGV[5] how long the index may outlive its newest entry (ms), ARGV[6] mode
-- Returns {1, until} when this call tripped the prefix, {0, until of the record in force}
-- when one of the same mode already was.
local ttl = tonumber(ARGV[3]) - tonumber(ARGV[4])
if ttl <= 0 then
  return {0, 0}
end
local existing = redis.call('GET', KEYS[1])
if existing then
  local record = cjson.decode(existing)
  if record.mode == ARGV[6] then
    return {0, record.until_ms}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[5]))
return {1, tonumber(ARGV[3])}
