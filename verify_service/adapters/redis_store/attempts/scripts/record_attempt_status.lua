-- Record the delivery status of one send attempt. Statuses only move forward
-- (queued < sent < delivered | undelivered | failed), so a late or replayed receipt cannot
-- undo a later one. Only an attempt the history holds is changed (its bucket expires whole).
-- KEYS[1] the attempt's bucket's delivery statuses (hash; record_attempt.lua has the format)
-- ARGV[1] attempt key   ARGV[2] now (ms)   ARGV[3] the bucket's start (ms)
-- ARGV[4] status (q s d u f)   ARGV[5] rank of that status (0, 1 or 2)
-- ARGV[6] provider ('' keep)   ARGV[7] provider message id ('' keep)   ARGV[8] error ('' none)
-- Returns 1 when recorded, 0 when the status would have moved backwards (or no such attempt)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return 0
end
local f = {}
for part in string.gmatch(raw .. '\31', '(.-)\31') do
  f[#f + 1] = part
end
local rank, new = tonumber(f[3]), tonumber(ARGV[5])
if new < rank or (new == rank and rank == 2) then
  return 0
end
local at = string.format('%d', tonumber(ARGV[2]) - tonumber(ARGV[3]))
f[3], f[4], f[5] = ARGV[5], ARGV[4], at
if new == 0 then
  f[6] = at
elseif new == 1 then
  f[7] = at
else
  f[8] = at
end
if ARGV[6] ~= '' then
  f[9] = ARGV[6]
end
if ARGV[7] ~= '' then
  f[10] = ARGV[7]
end
if ARGV[8] ~= '' then
  f[11] = ARGV[8]
end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(f, '\31'))
return 1
