-- Create a verification for a destination, or record one more send on the pending one.
-- Called with the sid the code digest was computed for; if the pending verification is not
-- the one the caller read (a concurrent start or end), nothing changes and 'conflict' tells
-- the caller to read again.
-- KEYS[1]  verification hash     KEYS[2]  the destination's lock (end_verification.lua)
-- ARGV[1]  now (ms)            ARGV[2]  sid               ARGV[3]  '1' create, '0' resend
-- ARGV[4]  ttl (ms)            ARGV[5]  max sends         ARGV[6]  max checks
-- ARGV[7]  channel             ARGV[8]  attempt (VL) sid  ARGV[9]  code digest
-- ARGV[10] salt                ARGV[11] encrypted To      ARGV[12] amount ('' none)
-- ARGV[13] payee ('' none)     ARGV[14] locale ('' none)  ARGV[15] tags, sealed ('' none)
-- Returns {'created'|'resent', HGETALL} | {'conflict'} | {'locked'|'max_sends', ms left}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local current = redis.call('HMGET', key, 'sid', 'ex', 'n', 'c')
if current[1] and tonumber(current[2]) <= now then
  redis.call('DEL', key)
  current = {false, false, false, false}
end
local attempt = ARGV[1] .. '|' .. ARGV[7] .. '|' .. ARGV[8]

if ARGV[3] == '1' then
  if current[1] then
    return {'conflict'}
  end
  -- A cancel never refunds guesses: a canceled verification's record 'expiry|sid|checks'
  -- (end_verification.lua; an older 'expiry|sid' means all used) carries its checks into
  -- the new one until that expiry; with all of them used, no new one (no fresh guesses).
  local lock = redis.call('GET', KEYS[2])
  local locked_until, _, used = string.match(lock or '', '^(%d+)|([^|]+)|?(%d*)$')
  local carried = 0
  if locked_until and tonumber(locked_until) > now then
    carried = math.min(tonumber(used) or tonumber(ARGV[6]), tonumber(ARGV[6]))
    if carried >= tonumber(ARGV[6]) then
      return {'locked', tonumber(locked_until) - now}
    end
  end
  local expires = string.format('%d', now + tonumber(ARGV[4]))
  redis.call('HSET', key, 'sid', ARGV[2], 'to', ARGV[11], 'ch', ARGV[7], 'ca', ARGV[1],
    'ua', ARGV[1], 'ex', expires, 'n', 1, 'c', carried, 'salt', ARGV[10], 'h1', ARGV[9],
    'a1', attempt)
  if carried > 0 then
    redis.call('HSET', key, 'cc', carried)
  end
  local optional = {'am', 'pa', 'lo', 'tg'}
  for index, field in ipairs(optional) do
    if ARGV[11 + index] ~= '' then
      redis.call('HSET', key, field, ARGV[11 + index])
    end
  end
  redis.call('PEXPIRE', key, ARGV[4])
  return {'created', redis.call('HGETALL', key)}
end

if current[1] ~= ARGV[2] then
  return {'conflict'}
end
local left = tonumber(current[2]) - now
if tonumber(current[4]) >= tonumber(ARGV[6]) then
  return {'locked', left}
end
local sends = tonumber(current[3])
if sends >= tonumber(ARGV[5]) then
  return {'max_sends', left}
end
sends = sends + 1
redis.call('HSET', key, 'n', sends, 'h' .. sends, ARGV[9], 'a' .. sends, attempt,
  'ch', ARGV[7], 'ua', ARGV[1])
-- A resend may name another locale or tags; the PSD2 terms stay those of the first send.
if ARGV[14] ~= '' then
  redis.call('HSET', key, 'lo', ARGV[14])
end
if ARGV[15] ~= '' then
  redis.call('HSET', key, 'tg', ARGV[15])
end
return {'resent', redis.call('HGETALL', key)}
