-- Add a number to the account's safe list unless it is listed already (HSETNX), and return
-- the entry as stored, so concurrent adds of one number all answer with the same sid.
-- KEYS[1] the safe-list hash (field = keyed digest of the number, never the number)
-- ARGV[1] the number's field   ARGV[2] the new entry as JSON {"sid", "created_ms"}
-- Returns the stored entry's JSON: the existing one, or ARGV[2]
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])
