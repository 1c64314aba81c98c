-- Take back one event from a `limits` moving window (a start another limit refused).
-- KEYS[1] the window (a list of event timestamps, newest first)
-- ARGV[1] the event's timestamp, as given to the acquire script
-- The number is passed on as a number, so Redis formats it exactly as the acquire script's
-- LPUSH did; events of the same instant are identical, so removing any one is exact.
-- Returns how many were removed (0 or 1).
return redis.call('LREM', KEYS[1], 1, tonumber(ARGV[1]))
