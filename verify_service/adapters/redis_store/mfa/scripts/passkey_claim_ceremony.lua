-- Claim a passkey ceremony for one answer: read it and delete it in one step, so of two
-- answers (a replay, or two tabs) exactly one gets it; the other finds nothing. A ceremony
-- past its `expires_ms` (ARGV[1], the caller's clock) is deleted and reported expired. A
-- ceremony of the other kind (an assertion posted to VerifyFactor) is left as it is.
-- A claimed (or expired) discoverable ceremony leaves the service's open ones (KEYS[2]).
-- KEYS[1] the ceremony hash   KEYS[2] the service's open discoverable ceremonies
-- ARGV[1] now ms   ARGV[2] the kind expected (registration | authentication)   ARGV[3] tag
-- Returns {'gone'} | {'expired'} | {'claimed', HGETALL}
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 or redis.call('HGET', KEYS[1], 'kind') ~= ARGV[2] then
  return {'gone'}
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
local expires = 0
for i = 1, #record, 2 do
  if record[i] == 'expires_ms' then
    expires = tonumber(record[i + 1])
  end
end
if tonumber(ARGV[1]) >= expires then
  return {'expired'}
end
return {'claimed', record}
