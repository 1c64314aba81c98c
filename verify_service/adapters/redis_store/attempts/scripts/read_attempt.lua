-- Read one send attempt (no change): its delivery status, the bucket's service and the
-- record the status points at, in one round trip.
-- KEYS[1] the bucket's delivery statuses (hash)   KEYS[2] the bucket's records (stream)
-- ARGV[1] attempt key   ARGV[2] the bucket's start (ms)
-- Returns {status value, service sid, record} | {}
local found = redis.call('HMGET', KEYS[1], ARGV[1], 'va')
if not found[1] then
  return {}
end
-- The status value starts with its letter, the entry's time (ms after the bucket's start,
-- 6 digits base 36), then '\31' and its sequence number (record_attempt.lua).
local ms, seq = string.match(found[1], '^%a(%w%w%w%w%w%w)\31(%d*)\31')
if not ms then
  return {}
end
if seq == '' then
  seq = '0'
end
local id = string.format('%d', tonumber(ARGV[2]) + tonumber(ms, 36)) .. '-' .. seq
local entries = redis.call('XRANGE', KEYS[2], id, id)
if #entries == 0 then
  return {}
end
return {found[1], found[2] or '', entries[1][2][2]}
