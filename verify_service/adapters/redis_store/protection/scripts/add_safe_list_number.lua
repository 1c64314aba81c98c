-- Add a number to the account's safe list unless it is listed already, under this field or
-- under the number's field of another ring key, and return the entry as stored, so
-- concurrent adds of one number all answer with the same sid.
-- KEYS[1] the safe-list hash (field = key id:keyed digest of the number, never the number)
-- ARGV[1] the number's field under the primary key   ARGV[2] the new entry as JSON
-- ARGV[3..] the number's fields under the ring's other keys
-- Returns the stored entry's JSON: the existing one, or ARGV[2]
for i = 3, #ARGV do
  local found = redis.call('HGET', KEYS[1], ARGV[i])
  if found then
    return found
  end
end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])
