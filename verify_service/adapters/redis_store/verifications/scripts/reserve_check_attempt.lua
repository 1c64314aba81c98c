-- Count one check attempt before the code is verified (in Python, with argon2id). The
-- attempt counts even if the caller dies before verifying: a crash never refunds a guess.
-- The attempt history notes each counted check ('w': wrong unless end_verification.lua
-- later marks it as the approving one) and each refusal of a locked verification ('l').
-- KEYS[1] verification hash   KEYS[2] the destination's verification history (hash)
-- KEYS[3] the destination's lock (a canceled verification's checks, end_verification.lua)
-- ARGV[1] now (ms)   ARGV[2] expected sid ('' when checked by To)
-- ARGV[3] max checks ARGV[4] '1' when the check carries Amount and Payee
-- ARGV[5] history retention (ms)   ARGV[6] most check events noted per verification
-- ARGV[7] '1' when the check carries Amount or Payee (refused on a verification without PSD2
-- terms: docs/parameters.md)
-- Returns {'reserved', HGETALL} | {'missing'} | {'locked', ms left} | {'psd2_required'}
--   | {'psd2_not_enabled'}
local key = KEYS[1]
local now = tonumber(ARGV[1])

-- History fields: 'k:<VE>' = 'ms:outcome;' events; past the bound, 'kx:<VE>' counts them.
local function note(sid, outcome)
  local history = KEYS[2]
  local field = 'k:' .. sid
  local events = redis.call('HGET', history, field) or ''
  local _, count = string.gsub(events, ';', '')
  if count >= tonumber(ARGV[6]) then
    redis.call('HINCRBY', history, 'kx:' .. sid, 1)
  else
    redis.call('HSET', history, field, events .. ARGV[1] .. ':' .. outcome .. ';')
  end
  redis.call('PEXPIRE', history, ARGV[5])
end

local current = redis.call('HMGET', key, 'sid', 'ex', 'c', 'am')
if not current[1] then
  -- Checked by To while a canceled verification's record says its checks are all used
  -- ('expiry|sid|checks', end_verification.lua; an older 'expiry|sid'): still locked.
  local lock = ARGV[2] == '' and redis.call('GET', KEYS[3])
  local locked_until, sid, used = string.match(lock or '', '^(%d+)|([^|]+)|?(%d*)$')
  local all_used = (tonumber(used) or tonumber(ARGV[3])) >= tonumber(ARGV[3])
  if locked_until and tonumber(locked_until) > now and all_used then
    note(sid, 'l')
    return {'locked', tonumber(locked_until) - now}
  end
  return {'missing'}
end
if tonumber(current[2]) <= now then
  redis.call('DEL', key)
  return {'missing'}
end
if ARGV[2] ~= '' and current[1] ~= ARGV[2] then
  return {'missing'}
end
if tonumber(current[3]) >= tonumber(ARGV[3]) then
  note(current[1], 'l')
  return {'locked', tonumber(current[2]) - now}
end
if current[4] and ARGV[4] ~= '1' then
  return {'psd2_required'}
end
if not current[4] and ARGV[7] == '1' then
  return {'psd2_not_enabled'}
end
redis.call('HINCRBY', key, 'c', 1)
redis.call('HSET', key, 'ua', ARGV[1])
note(current[1], 'w')
return {'reserved', redis.call('HGETALL', key)}
