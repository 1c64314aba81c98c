-- Add a MessagingConfiguration (one country's route) to an existing Verify Service: two
-- fields of the service's own hash, so a start's read of the service carries it.
-- KEYS[1] service hash
-- ARGV[1] field (mc:<country>)   ARGV[2] JSON [route sid, updated ms]
-- ARGV[3] creation field (mc:<country>:created)   ARGV[4] created ms
-- Returns 1 when added, 0 when the country has one already, -1 when there is no service
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
return 1
