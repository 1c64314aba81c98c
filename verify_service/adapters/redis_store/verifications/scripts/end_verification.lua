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
-- ARGV[7] who ended it by hand and why (JSON; '' for none)
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
-- A cancel never refunds guesses: a verification canceled with checks used leaves
-- 'expiry ms|sid|checks used' (never more than ARGV[6]) until its own expiry, or the record
-- it carried, if that lasts longer; start_or_resend.lua starts the next one with those
-- checks used (none at all while they are all used), and a check by To is refused while
-- they are. An approval ends the chain: the record goes.
if ARGV[3] == 'canceled' then
  local checks = math.min(tonumber(redis.call('HGET', key, 'c') or '0'), tonumber(ARGV[6]))
  if checks > 0 then
    local carried = tonumber(string.match(redis.call('GET', KEYS[3]) or '', '^%d+') or '0')
    local expires = math.max(tonumber(current[2]), carried)
    redis.call('SET', KEYS[3], string.format('%d', expires) .. '|' .. ARGV[2] .. '|' .. checks,
      'PX', expires - tonumber(ARGV[1]))
  end
else
  redis.call('DEL', KEYS[3])
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
    redis.call('HDEL', history, 'k:' .. sid, 'e:' .. sid, 'kx:' .. sid, 'b:' .. sid)
  end
end
redis.call('HSET', history, 'e:' .. ARGV[2], ARGV[1] .. '|' .. ARGV[3])
-- Ended by hand (a cancel, an approval by update): who and why, 'b:<VE>' = ARGV[7] (JSON),
-- written with the end itself, so no end is ever shown without it. Pruned with the end.
if ARGV[7] and ARGV[7] ~= '' then
  redis.call('HSET', history, 'b:' .. ARGV[2], ARGV[7])
end
if ARGV[4] == '1' then
  local events = redis.call('HGET', history, 'k:' .. ARGV[2])
  local head, tail = string.match(events or '', '^(.*):w;(.-)$')
  if head then
    redis.call('HSET', history, 'k:' .. ARGV[2], head .. ':a;' .. tail)
  end
end
redis.call('PEXPIRE', history, ARGV[5])
return {ARGV[3], fields}
