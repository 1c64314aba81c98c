-- An operator requeued a dead letter: its failed attempt is queued again, so the worker's
-- next status (sent, or failed for a new reason) is recorded instead of refused as a step
-- backwards. Only a failed attempt is reopened; the old failure's error and time go.
-- KEYS[1] attempt hash
-- ARGV[1] now (ms)   ARGV[2] ttl (ms)
-- Returns 1 when reopened, else 0 (no record, or one that is not failed)
local key = KEYS[1]
if redis.call('HGET', key, 'status') ~= 'failed' then
  return 0
end
redis.call('HSET', key, 'status', 'queued', 'rank', 0, 'ua', ARGV[1], 't_queued', ARGV[1])
redis.call('HDEL', key, 'err', 't_failed')
redis.call('PEXPIRE', key, ARGV[2])
return 1
