-- An operator requeued a dead letter: its failed attempt is queued again, so the worker's
-- next status (sent, or failed for a new reason) is recorded instead of refused as a step
-- backwards. Only a failed attempt is reopened; the old failure's error and time go.
-- KEYS[1] the attempt's bucket's delivery statuses (hash; record_attempt.lua has the format)
-- ARGV[1] attempt key   ARGV[2] now (ms)   ARGV[3] the bucket's start (ms)
-- Returns 1 when reopened, else 0 (no record, or one that is not failed)
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
if f[1] ~= 'f' then
  return 0
end
f[1], f[6], f[8] = 'q', '', ''
f[4] = base36(tonumber(ARGV[2]) - tonumber(ARGV[3]) - tonumber(f[2], 36))
redis.call('HSET', KEYS[1], ARGV[1], f[1] .. f[2] .. '\31' .. table.concat(f, '\31', 3))
return 1
