-- Append a rotation's checkpoint to the audit log, only if the head is still the one the
-- reseal checked (compare-and-set), after making the legacy-link table exactly the one whose
-- digest the checkpoint names (its fields added where missing; refused if any differs or the
-- table holds a field the caller did not digest). Table and checkpoint in one step.
-- KEYS[1] the audit stream, KEYS[2] the head record, KEYS[3] the legacy-link table
-- ARGV[1] the head hash the reseal checked ('' when there was no head yet)
-- ARGV[2] the checkpoint's hash, ARGV[3] its seq, ARGV[4] its canonical JSON body
-- ARGV[5] prev to store, ARGV[6] the retention bound (MAXLEN, exact)
-- ARGV[7] the primary key id, ARGV[8] the checkpoint's MAC
-- ARGV[9] the number of table fields the digest covers, then ARGV[10..] field, link pairs
-- Returns {1, id}; {0, head hash, head seq} when the head moved; {-1, field} when the table
-- differs from the one digested (nothing written).
local head = redis.call('HMGET', KEYS[2], 'hash', 'seq')
local current = head[1] or ''
if current ~= ARGV[1] then
  return {0, current, head[2] or '0'}
end
local count = tonumber(ARGV[9])
local missing = {}
for i = 10, 9 + 2 * count, 2 do
  local stored = redis.call('HGET', KEYS[3], ARGV[i])
  if not stored then
    missing[#missing + 1] = ARGV[i]
    missing[#missing + 1] = ARGV[i + 1]
  elseif stored ~= ARGV[i + 1] then
    return {-1, ARGV[i]}
  end
end
if redis.call('HLEN', KEYS[3]) + #missing / 2 ~= count then
  return {-1, ''}
end
for i = 1, #missing, 1000 do
  redis.call('HSET', KEYS[3], unpack(missing, i, math.min(i + 999, #missing)))
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[6], '*',
  'entry', ARGV[4], 'prev', ARGV[5], 'hash', ARGV[2], 'k', ARGV[7], 'mac', ARGV[8])
redis.call('HSET', KEYS[2], 'hash', ARGV[2], 'seq', ARGV[3], 'id', id)
return {1, id}
