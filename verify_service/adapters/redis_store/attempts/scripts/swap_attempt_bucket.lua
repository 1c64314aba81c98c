-- Finish re-sealing one attempt history bucket (a key rotation): the copy built beside it
-- (same ids, destinations re-sealed) gets the records appended since the copy's last entry,
-- the bucket's TTL, and replaces the records. Records are never changed in place, only
-- appended, so nothing written meanwhile is lost.
-- KEYS[1] the bucket's records (stream)   KEYS[2] the copy (stream)
-- ARGV[1] the copy's last entry id ('0-0' for none)
-- Returns the number of entries appended from the records, or -1 when the records are gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return -1
end
local later = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')
for _, entry in ipairs(later) do
  redis.call('XADD', KEYS[2], entry[1], unpack(entry[2]))
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('RENAME', KEYS[2], KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return #later
