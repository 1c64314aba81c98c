-- Append one entry to the audit log, only if the chain's head is still the one the caller
-- read and linked against (compare-and-set), trimming the oldest entries past the bound.
-- KEYS[1] the audit stream, KEYS[2] the head record (hash: hash, seq, id)
-- ARGV[1] the head hash the caller read ('' when there was no head yet)
-- ARGV[2] the new entry's hash, ARGV[3] its seq, ARGV[4] its canonical JSON body
-- ARGV[5] prev to store (the read head hash, or 64 zeros for the first entry ever)
-- ARGV[6] the retention bound (MAXLEN, exact)
-- ARGV[7] the id of the ring key the entry is MAC'd under, ARGV[8] its MAC
-- Returns {1, id} when appended; {0, head hash, head seq} when the head moved meanwhile.
local head = redis.call('HMGET', KEYS[2], 'hash', 'seq')
local current = head[1] or ''
if current ~= ARGV[1] then
  return {0, current, head[2] or '0'}
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[6], '*',
  'entry', ARGV[4], 'prev', ARGV[5], 'hash', ARGV[2], 'k', ARGV[7], 'mac', ARGV[8])
redis.call('HSET', KEYS[2], 'hash', ARGV[2], 'seq', ARGV[3], 'id', id)
return {1, id}
