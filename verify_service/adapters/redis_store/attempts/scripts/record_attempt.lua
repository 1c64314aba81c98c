-- Record a new send attempt in its history bucket (one service, one UTC hour): its record
-- appended to the bucket's stream, its delivery status ('queued') set in the bucket's hash.
-- Stream ids are creation times; one that arrives after a later one (a slower process) takes
-- the latest time, so ids only grow. The first attempt of a bucket creates it, with the TTL
-- that makes the whole bucket expire at the end of its hour plus the retention period.
-- KEYS[1] the bucket's records (stream)   KEYS[2] the bucket's delivery statuses (hash)
-- ARGV[1] now (ms)   ARGV[2] the bucket's start (ms)   ARGV[3] attempt key (status field)
-- ARGV[4] the record (packed, the destination sealed)   ARGV[5] the bucket's TTL (ms)
-- ARGV[6] service (VA) sid, kept once per bucket
-- Returns 1
-- Status value: fields joined by \31, times in ms after the bucket's start:
-- entry ms, entry seq, rank, status (q s d u f), updated, queued, sent, final, provider,
-- provider message id, error code.
local records = KEYS[1]
local statuses = KEYS[2]
local id = redis.pcall('XADD', records, 'NOMKSTREAM', ARGV[1] .. '-*', 'd', ARGV[4])
if type(id) == 'table' and id.err then
  local top = redis.call('XREVRANGE', records, '+', '-', 'COUNT', 1)
  id = redis.call('XADD', records, string.match(top[1][1], '^%d+') .. '-*', 'd', ARGV[4])
elseif not id then
  id = redis.call('XADD', records, ARGV[1] .. '-*', 'd', ARGV[4])
  redis.call('HSET', statuses, 'va', ARGV[6])
  redis.call('PEXPIRE', records, ARGV[5])
  redis.call('PEXPIRE', statuses, ARGV[5])
end
local start = tonumber(ARGV[2])
local ms, seq = string.match(id, '^(%d+)-(%d+)$')
local queued = string.format('%d', tonumber(ARGV[1]) - start)
redis.call('HSET', statuses, ARGV[3], table.concat(
  {string.format('%d', tonumber(ms) - start), seq, '0', 'q', queued, queued, '', '', '', '', ''},
  '\31'))
return 1
