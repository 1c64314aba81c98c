-- Replace one sealed hash value by its re-sealed form (a rotation's reseal of a delayed job
-- or a dead letter), only if it still holds what the caller read (compare-and-set): a
-- concurrent promote, requeue or trim wins, and nothing gone is re-created.
-- KEYS[1] the hash
-- ARGV[1] field   ARGV[2] sealed value as read   ARGV[3] re-sealed value
-- Returns 1 when replaced, 0 when the field changed or is gone
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
