-- Re-seal a queued delivery under the primary key (a rotation's reseal): stream entries
-- cannot change, so the entry is added again at the end with the new sealed job and the
-- old one deleted, in one step. Only an entry no worker holds (not pending for the group)
-- and still holding the job the caller read (compare-and-set): a worker's delivery is
-- never duplicated, nor a handled one revived.
-- KEYS[1] stream
-- ARGV[1] group   ARGV[2] entry id   ARGV[3] sealed job as read   ARGV[4] re-sealed job
-- Returns the new entry id, or false when the entry is pending, gone or changed
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #found == 0 then
  return false
end
local fields = found[1][2]
local job_at = nil
for i = 1, #fields, 2 do
  if fields[i] == 'job' then
    job_at = i + 1
  end
end
if job_at == nil or fields[job_at] ~= ARGV[3] then
  return false
end
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if ok and #pending > 0 then
  return false
end
fields[job_at] = ARGV[4]
local id = redis.call('XADD', KEYS[1], '*', unpack(fields))
redis.call('XDEL', KEYS[1], ARGV[2])
return id
