-- Record the delivery status of one send attempt. Statuses only move forward
-- (queued < sent < delivered | undelivered | failed), so a late or replayed receipt cannot
-- undo a later one.
-- KEYS[1] attempt hash
-- ARGV[1] now (ms)   ARGV[2] status   ARGV[3] rank of that status (0, 1 or 2)
-- ARGV[4] provider ('' keep)   ARGV[5] provider message id ('' keep)
-- ARGV[6] error code ('' none)   ARGV[7] ttl (ms)   ARGV[8..] field, value pairs set on creation
-- Returns 1 when recorded, 0 when the status would have moved backwards
local key = KEYS[1]
local rank = tonumber(redis.call('HGET', key, 'rank') or '-1')
if tonumber(ARGV[3]) < rank or (tonumber(ARGV[3]) == rank and rank == 2) then
  return 0
end
if rank < 0 and #ARGV > 7 then
  redis.call('HSET', key, unpack(ARGV, 8))
end
redis.call('HSET', key, 'status', ARGV[2], 'rank', ARGV[3], 'ua', ARGV[1],
  't_' .. ARGV[2], ARGV[1])
if ARGV[4] ~= '' then
  redis.call('HSET', key, 'provider', ARGV[4])
end
if ARGV[5] ~= '' then
  redis.call('HSET', key, 'pmid', ARGV[5])
end
if ARGV[6] ~= '' then
  redis.call('HSET', key, 'err', ARGV[6])
end
redis.call('PEXPIRE', key, ARGV[7])
return 1
