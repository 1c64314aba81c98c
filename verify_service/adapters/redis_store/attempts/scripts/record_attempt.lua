-- Record a new send attempt in its history bucket (one service, one UTC day): its record
-- appended to the bucket's stream, its delivery status ('queued') set in the bucket's hash.
-- Stream ids are creation times; one that arrives after a later one (a slower process), or in
-- the same millisecond, takes the newest entry's time, so ids only grow. The first attempt of a bucket creates it, with the TTL
-- that makes the whole bucket expire at the end of its day plus the retention period.
-- KEYS[1] the bucket's records (stream)   KEYS[2] the bucket's delivery statuses (hash)
-- ARGV[1] now (ms)   ARGV[2] the bucket's start (ms)   ARGV[3] attempt key (status field)
-- ARGV[4] the record (packed, the destination sealed)   ARGV[5] the bucket's TTL (ms)
-- ARGV[6] service (VA) sid, kept once per bucket
-- Returns 1
-- Status value (kept under 45 bytes, so Redis allocates it in 48): the status letter
-- (q s d u f), then the record's stream entry time in ms after the bucket's start (6 digits
-- base 36), then joined by \31: the entry's sequence number ('' for 0), then queued, sent and
-- final (delivered, undelivered or failed) as ms after the entry's time in base 36 ('' for
-- none; queued '' is the entry's time), provider (`name\30receipt sender\30route sid`, each
-- part after the name optional: attempt_records.py), error code, and last the provider's
-- message id (packed by the caller: any bytes). A routed attempt's `MG` sid (35 bytes with
-- its separator) takes the value past that class.
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function base36(n)
  local sign, text = '', ''
  if n < 0 then
    sign, n = '-', -n
  end
  repeat
    local digit = n % 36
    text = string.sub(DIGITS, digit + 1, digit + 1) .. text
    n = (n - digit) / 36
  until n == 0
  return sign .. text
end
local records = KEYS[1]
local statuses = KEYS[2]
-- 'now-*' (Redis 7 numbers entries of one millisecond), or 'now-0' on Redis 6.2, refused when
-- a later entry (or on 6.2 one of this millisecond) is there already: then the newest entry's
-- time and its sequence number plus one.
local suffix = redis.REDIS_VERSION_NUM and '-*' or '-0'
local id = redis.pcall('XADD', records, 'NOMKSTREAM', ARGV[1] .. suffix, 'd', ARGV[4])
if type(id) == 'table' and id.err then
  local top = redis.call('XREVRANGE', records, '+', '-', 'COUNT', 1)
  local last, seq = string.match(top[1][1], '^(%d+)-(%d+)$')
  id = redis.call('XADD', records, last .. '-' .. string.format('%d', tonumber(seq) + 1),
    'd', ARGV[4])
elseif not id then
  id = redis.call('XADD', records, ARGV[1] .. suffix, 'd', ARGV[4])
  redis.call('HSET', statuses, 'va', ARGV[6])
  redis.call('PEXPIRE', records, ARGV[5])
  redis.call('PEXPIRE', statuses, ARGV[5])
end
local ms, seq = string.match(id, '^(%d+)-(%d+)$')
local entry = base36(tonumber(ms) - tonumber(ARGV[2]))
local queued = ''
if ms ~= ARGV[1] then
  queued = base36(tonumber(ARGV[1]) - tonumber(ms))
end
if seq == '0' then
  seq = ''
end
redis.call('HSET', statuses, ARGV[3], 'q' .. string.rep('0', 6 - #entry) .. entry ..
  table.concat({'', seq, queued, '', '', '', '', ''}, '\31'))
return 1
