-- Count one event in a small exact moving window, or take one back, or count its events:
-- the window of one scope (a destination, a device network, a rate-limit value) for every
-- limit on that scope at once (sends per destination per hour and per day share one).
-- Same semantics as `limits`' moving window (an event exactly `interval` old still counts),
-- stored as one string of event times, newest first: a fraction of a list's memory.
-- KEYS[1] the window: "ms,ms,..." (event times in ms, newest first)
-- ARGV[1] now (ms)   ARGV[2] 'hit' | 'release' | 'count'
-- hit:     ARGV[3] the most events kept   ARGV[4] the longest interval (ms)
--          ARGV[5..] triples: max, interval (ms), '1' enforced / '0' counted only
--          Returns {0} admitted and counted | {i, oldest ms}: triple i refuses (nothing counted)
-- release: removes one event at exactly ARGV[1]; returns 1 or 0
-- count:   ARGV[3] span (ms); returns how many events are at most that old
local key = KEYS[1]
local now = tonumber(ARGV[1])
local events = {}
for time in string.gmatch(redis.call('GET', key) or '', '%d+') do
  events[#events + 1] = tonumber(time)
end

if ARGV[2] == 'count' then
  local oldest, count = now - tonumber(ARGV[3]), 0
  for _, time in ipairs(events) do
    if time >= oldest then count = count + 1 end
  end
  return count
end

local function store(list, keep_ms)
  if #list == 0 then
    redis.call('DEL', key)
    return
  end
  local parts = {}
  for i, time in ipairs(list) do parts[i] = string.format('%d', time) end
  redis.call('SET', key, table.concat(parts, ','), 'PX', keep_ms)
end

if ARGV[2] == 'release' then
  for i, time in ipairs(events) do
    if time == now then
      table.remove(events, i)
      local ttl = redis.call('PTTL', key)
      store(events, ttl > 0 and ttl or 1)
      return 1
    end
  end
  return 0
end

for i = 5, #ARGV, 3 do
  local max, interval = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local edge = events[max]
  if ARGV[i + 2] == '1' and edge and edge >= now - interval then
    return {(i - 2) / 3, edge}
  end
end
local keep, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
-- The caller's limits may be stale (a process counts with the settings it last read): never
-- drop what the window's writers so far still count. The key's expiry was set to the longest
-- interval of the last hit (made at the newest event's time), and at most 64 events
-- (rate_limiter.SMALL_WINDOW_MAX) are ever needed.
local ttl = redis.call('PTTL', key)
if ttl > 0 and events[1] then
  longest = math.max(longest, ttl + now - events[1])
end
keep = math.max(keep, math.min(#events + 1, 64))
local kept = {now}
for _, time in ipairs(events) do
  if #kept >= keep then break end
  if time >= now - longest then kept[#kept + 1] = time end
end
store(kept, longest)
return {0}
