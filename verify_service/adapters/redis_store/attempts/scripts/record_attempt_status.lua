-- Record the delivery status of one send attempt. Statuses only move forward
-- (queued < sent < delivered | undelivered | failed), so a late or replayed receipt cannot
-- undo a later one. Only an attempt the history holds is changed (its bucket expires whole).
-- KEYS[1] the attempt's bucket's delivery statuses (hash; record_attempt.lua has the format)
-- ARGV[1] attempt key   ARGV[2] now (ms)   ARGV[3] the bucket's start (ms)
-- ARGV[4] status (q s d u f)
-- ARGV[5] provider ('' keep; `name`, `name\30sender` or `name\30sender\30route sid`)
-- ARGV[6] error code ('' keep)
-- ARGV[7] provider message id, packed ('' keep)
-- Returns 1 when recorded, 0 when the status would have moved backwards (or no such attempt)
local RANK = {q = 0, s = 1, d = 2, u = 2, f = 2}
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function base36(n)
  local sign, text = '', ''
  if n < 0 then
    sign, n = '-', -n
  end
  repeat
    local digit = n % 36
    text = string.sub(DIGITS, digit + 1, digit + 1) .. text
    n = (n - digit) / 36
  until n == 0
  return sign .. text
end
local function parse(raw)
  local f, rest = {string.sub(raw, 1, 1), string.sub(raw, 2, 7)}, string.sub(raw, 9)
  for i = 3, 8 do
    local at = string.find(rest, '\31', 1, true)
    f[i] = string.sub(rest, 1, at - 1)
    rest = string.sub(rest, at + 1)
  end
  f[9] = rest
  return f
end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return 0
end
local f = parse(raw)
local rank, new = RANK[f[1]], RANK[ARGV[4]]
if new < rank or (new == rank and rank == 2) then
  return 0
end
local at = base36(tonumber(ARGV[2]) - tonumber(ARGV[3]) - tonumber(f[2], 36))
f[1] = ARGV[4]
if new == 0 then
  f[4] = at
elseif new == 1 then
  f[5] = at
else
  f[6] = at
end
if ARGV[5] ~= '' then
  f[7] = ARGV[5]
end
if ARGV[6] ~= '' then
  f[8] = ARGV[6]
end
if ARGV[7] ~= '' then
  f[9] = ARGV[7]
end
redis.call('HSET', KEYS[1], ARGV[1], f[1] .. f[2] .. '\31' .. table.concat(f, '\31', 3))
return 1
