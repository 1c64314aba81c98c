-- Finish re-sealing one attempt history bucket (a key rotation): the copy one reseal run
-- built beside it (same ids, destinations re-sealed) gets the records appended since the
-- copy's last entry and, only if it then holds every record of the bucket (same length, same
-- newest id: its ids were read from the records, which are only ever appended), the bucket's
-- TTL, and replaces the records. Otherwise (the copy expired or lost entries) the copy is
-- dropped and the records are left as they are: nothing is lost, the run tries again.
-- KEYS[1] the bucket's records (stream)   KEYS[2] the copy (stream)
-- ARGV[1] the copy's last entry id ('0-0' for none)
-- Returns the number of entries appended from the records, -1 when the records are gone, or
-- -2 when the swap was refused (the copy did not hold every record)
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return -1
end
local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local copied_last = newest[1] and newest[1][1] or '0-0'
if copied_last ~= ARGV[1] then
  redis.call('DEL', KEYS[2])
  return -2
end
local later = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')
for _, entry in ipairs(later) do
  redis.call('XADD', KEYS[2], entry[1], unpack(entry[2]))
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local copy_last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if redis.call('XLEN', KEYS[2]) ~= redis.call('XLEN', KEYS[1])
    or (last[1] and last[1][1]) ~= (copy_last[1] and copy_last[1][1]) then
  redis.call('DEL', KEYS[2])
  return -2
end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('RENAME', KEYS[2], KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])  -- not the copy's own TTL
end
return #later
