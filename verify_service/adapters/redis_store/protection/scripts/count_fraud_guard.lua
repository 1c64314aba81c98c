-- Fraud Guard's tally of one prefix: sends and approvals counted per time bucket, in one
-- small hash ('s<bucket>' and 'a<bucket>' = count), read in the same step. Approximate to a
-- bucket (docs/abuse-protection.md): the window counts every bucket that ends inside it, the
-- approval grace every bucket that ends inside the grace, so a bucket straddling the grace
-- is not judged yet (the breaker can only trip later, never earlier, than exact counts would).
-- KEYS[1] the prefix's tally (hash)
-- ARGV[1] now (ms)   ARGV[2] window (ms)   ARGV[3] approval grace (ms)   ARGV[4] bucket (ms)
-- ARGV[5] sends to add (1, 0, or -1 to take back a refused start's)   ARGV[6] approvals to add
-- ARGV[7] the start's masked destination ('' none): noted among the prefix's last ARGV[8] in
-- field 'r' (newest first, one per line; what a trip shows), or taken back when ARGV[9] is
-- '1' (a start refused by another limit)
-- Returns {sends in the window, sends in the grace, approvals in the window}
local key = KEYS[1]
local now, window, grace, size = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4])
local bucket = math.floor(now / size)
local sends, approvals = tonumber(ARGV[5]), tonumber(ARGV[6])
if sends ~= 0 then redis.call('HINCRBY', key, 's' .. bucket, sends) end
if approvals ~= 0 then redis.call('HINCRBY', key, 'a' .. bucket, approvals) end
local masked = ARGV[7]
if masked ~= '' then
  local recent = {}
  for line in string.gmatch(redis.call('HGET', key, 'r') or '', '[^\n]+') do
    recent[#recent + 1] = line
  end
  if ARGV[9] ~= '1' then
    table.insert(recent, 1, masked)
    while #recent > tonumber(ARGV[8]) do table.remove(recent) end
  else
    for i, line in ipairs(recent) do
      if line == masked then
        table.remove(recent, i)
        break
      end
    end
  end
  redis.call('HSET', key, 'r', table.concat(recent, '\n'))
end
if sends > 0 or approvals > 0 or (masked ~= '' and ARGV[9] ~= '1') then
  redis.call('PEXPIRE', key, window + size)
end

local in_window, in_grace, approved, stale = 0, 0, 0, {}
local fields = redis.call('HGETALL', key)
for i = 1, #fields, 2 do
  local kind, number = string.sub(fields[i], 1, 1), tonumber(string.sub(fields[i], 2))
  local count = tonumber(fields[i + 1])
  local ends = number and (number + 1) * size
  if not number then
    -- 'r': the recent destinations
  elseif ends <= now - window then
    stale[#stale + 1] = fields[i]
  elseif kind == 's' then
    in_window = in_window + count
    if ends > now - grace then in_grace = in_grace + count end
  else
    approved = approved + count
  end
end
if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
return {math.max(in_window, 0), math.max(in_grace, 0), math.max(approved, 0)}
