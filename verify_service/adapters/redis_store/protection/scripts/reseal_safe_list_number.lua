-- Move a safe-list entry to its field under the primary key (a reseal), only if the old
-- field still holds the value the caller read (compare-and-set): a concurrent delete or
-- reseal wins. When the number was listed again under the new field meanwhile, the old
-- duplicate is removed and the newer entry kept.
-- KEYS[1] the safe-list hash
-- ARGV[1] old field   ARGV[2] its value as read   ARGV[3] new field   ARGV[4] new value
-- Returns 1 when moved, 0 when the old field changed or is gone
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HSETNX', KEYS[1], ARGV[3], ARGV[4])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
