-- wrk script for the delivery phase: starts POSTed at a fixed rate (bench/delivery.py runs it).
--   wrk -t THREADS -c CONNECTIONS ... -s paced_start.lua URL -- PATH AUTH PREFIX BASE SPAN RATE OUT
-- RATE is per thread. Open loop: request k of a thread is due at the thread's start + k / RATE;
-- delay() holds each request until its due time (a late one goes at once, none is skipped),
-- as long as a connection is free. To = PREFIX .. (BASE + thread * SPAN + k) as 6 digits, Channel=sms.
-- Each 201 answer appends "<verification sid> <wall-clock ns when it was read>" to OUT.<thread>.
-- done() prints one line "BENCH_RESULT {json}".

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")

local function clock_ms(clock_id)
  ffi.C.clock_gettime(clock_id, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local function wall_ns()
  ffi.C.clock_gettime(0, timespec) -- CLOCK_REALTIME, as Python's time.time_ns()
  return string.format("%d%09d", tonumber(timespec.tv_sec), tonumber(timespec.tv_nsec))
end

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
local slot = 0
local started_ms = nil
local out = nil

function init(args)
  path, auth, prefix = args[1], args[2], args[3]
  base, span, rate = tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  interval_ms = 1000 / rate
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = auth
  out = io.open(args[7] .. "." .. thread_index, "w")
  out:setvbuf("line")
end

function delay()
  local now = clock_ms(1) -- CLOCK_MONOTONIC
  if started_ms == nil then
    started_ms = now
  end
  local due = started_ms + slot * interval_ms
  slot = slot + 1
  if due <= now then
    return 0
  end
  return math.floor(due - now + 0.5)
end

function request()
  local n = base + thread_index * span + counter % span
  counter = counter + 1
  local body = "To=%2B" .. string.sub(prefix, 2) .. string.format("%06d", n) .. "&Channel=sms"
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  if status == 201 then
    local sid = string.match(body, '"sid"%s*:%s*"(VE%x+)"')
    if sid then
      out:write(sid, " ", wall_ns(), "\n")
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,' ..
    '"max":%d,"mean":%f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
