-- Read a page of one history bucket, newest first (no change): the records of the stream
-- between two ids, each with its delivery status, and the bucket's service, in one round trip.
-- KEYS[1] the bucket's records (stream)   KEYS[2] the bucket's delivery statuses (hash)
-- ARGV[1] newest id ('+' or 'ms' or 'ms-seq', inclusive)   ARGV[2] oldest id (ms, inclusive)
-- ARGV[3] at most this many entries   ARGV[4] bytes of the attempt key at the record's start
-- Returns {service sid or false, {id, record, status or false}...}
local entries = redis.call('XREVRANGE', KEYS[1], ARGV[1], ARGV[2], 'COUNT', ARGV[3])
local reply = {redis.call('HGET', KEYS[2], 'va') or false}
if #entries == 0 then
  return reply
end
local fields = {}
local width = tonumber(ARGV[4])
for i, entry in ipairs(entries) do
  fields[i] = string.sub(entry[2][2], 1, width)
end
local statuses = redis.call('HMGET', KEYS[2], unpack(fields))
for i, entry in ipairs(entries) do
  reply[i + 1] = {entry[1], entry[2][2], statuses[i] or false}
end
return reply
