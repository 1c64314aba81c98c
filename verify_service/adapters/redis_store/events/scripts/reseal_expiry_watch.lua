-- Replace an expiry watch by the same watch with its tags sealed under the primary key, at
-- the same score, only if the watch is still there with the score the reseal read (a worker's
-- claim moves the score: that watch is left to its worker).
-- KEYS[1] due (sorted set: watch JSON -> due ms)
-- ARGV[1] the watch as read   ARGV[2] its replacement   ARGV[3] the score read
-- Returns 1 when replaced, 0 when the watch is gone or was claimed meanwhile
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], score, ARGV[2])
return 1
