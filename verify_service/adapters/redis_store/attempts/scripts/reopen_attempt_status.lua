-- An operator requeued a dead letter: its failed attempt is queued again, so the worker's
-- next status (sent, or failed for a new reason) is recorded instead of refused as a step
-- backwards. Only a failed attempt is reopened; the old failure's error and time go.
-- KEYS[1] the attempt's bucket's delivery statuses (hash; record_attempt.lua has the format)
-- ARGV[1] attempt key   ARGV[2] now (ms)   ARGV[3] the bucket's start (ms)
-- Returns 1 when reopened, else 0 (no record, or one that is not failed)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return 0
end
local f = {}
for part in string.gmatch(raw .. '\31', '(.-)\31') do
  f[#f + 1] = part
end
if f[4] ~= 'f' then
  return 0
end
local at = string.format('%d', tonumber(ARGV[2]) - tonumber(ARGV[3]))
f[3], f[4], f[5], f[6], f[8], f[11] = '0', 'q', at, at, '', ''
redis.call('HSET', KEYS[1], ARGV[1], table.concat(f, '\31'))
return 1
