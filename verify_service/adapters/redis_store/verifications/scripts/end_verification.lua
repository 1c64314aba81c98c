-- End a live verification, as approved (a right code, or an update) or canceled (an
-- update). Succeeds once: the hash is deleted in the same step, so of any number of
-- concurrent right codes exactly one ends it, and the others find it gone.
-- The attempt history (same slot) records the end, 'e:<VE>' = 'ms|outcome' (an approval is
-- the conversion of the verification's send attempts); approved by a check, the last
-- counted check becomes the approving one ('a'). Entries past the retention go here.
-- KEYS[1] verification hash   KEYS[2] the destination's verification history (hash)
-- ARGV[1] now (ms)   ARGV[2] sid   ARGV[3] outcome ('approved' or 'canceled')
-- ARGV[4] '1' when a right code approves it   ARGV[5] history retention (ms)
-- KEYS[3] the destination's lock   ARGV[6] max checks (see the lock block below)
-- Returns {outcome, HGETALL} | {'missing'}
local key = KEYS[1]
local current = redis.call('HMGET', key, 'sid', 'ex')
if not current[1] or current[1] ~= ARGV[2] then
  return {'missing'}
end
if tonumber(current[2]) <= tonumber(ARGV[1]) then
  redis.call('DEL', key)
  return {'missing'}
end
-- The lock outlives a cancel: a verification canceled with its checks used up leaves
-- 'expiry ms|sid' until its own expiry, which start_or_resend.lua and a check by To read.
if ARGV[3] == 'canceled' then
  local checks = redis.call('HGET', key, 'c')
  if tonumber(checks or '0') >= tonumber(ARGV[6]) then
    local left = tonumber(current[2]) - tonumber(ARGV[1])
    redis.call('SET', KEYS[3], current[2] .. '|' .. ARGV[2], 'PX', left)
  end
end

local fields = redis.call('HGETALL', key)
redis.call('DEL', key)

local history = KEYS[2]
local oldest = tonumber(ARGV[1]) - tonumber(ARGV[5])
local recorded = redis.call('HGETALL', history)
for i = 1, #recorded, 2 do
  local kind, sid = string.match(recorded[i], '^(%a+):(.+)$')
  local at = tonumber(string.match(recorded[i + 1], '^%d+') or '')
  if (kind == 'k' or kind == 'e') and at and at < oldest then
    redis.call('HDEL', history, 'k:' .. sid, 'e:' .. sid, 'kx:' .. sid)
  end
end
redis.call('HSET', history, 'e:' .. ARGV[2], ARGV[1] .. '|' .. ARGV[3])
if ARGV[4] == '1' then
  local events = redis.call('HGET', history, 'k:' .. ARGV[2])
  local head, tail = string.match(events or '', '^(.*):w;(.-)$')
  if head then
    redis.call('HSET', history, 'k:' .. ARGV[2], head .. ':a;' .. tail)
  end
end
redis.call('PEXPIRE', history, ARGV[5])
return {ARGV[3], fields}
