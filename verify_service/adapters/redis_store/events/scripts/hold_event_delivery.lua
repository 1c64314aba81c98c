-- A worker is about to send a delivery it read a while ago (it waited for its webhook's
-- previous send): if it still holds it, its idle time starts again (so no other worker
-- takes it over mid-send); if another worker took it over meanwhile, it is not sent here.
-- KEYS[1] stream
-- ARGV[1] group   ARGV[2] stream entry id   ARGV[3] consumer (this worker)
-- Returns 1 when this worker holds it (idle time reset), else 0
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #pending == 0 then
  return 0
end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
