-- A delivery is done (sent, or dropped because its verification ended): acknowledge it and
-- remove it from the stream, so no sealed message stays in Redis longer than needed.
-- KEYS[1] stream
-- ARGV[1] group   ARGV[2] stream entry id
-- Returns 1 when it was still pending for the group, else 0
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return acked
