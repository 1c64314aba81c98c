-- wrk script for the bench: form-encoded POSTs with HTTP Basic auth (bench/load.py runs it).
--   wrk ... -s form_post.lua URL -- PATH AUTH start PREFIX BASE SPAN
--   wrk ... -s form_post.lua URL -- PATH AUTH check SIDS_FILE THREADS CODE
-- start: To = PREFIX .. (BASE + thread * SPAN + counter % SPAN) as 6 digits, Channel=sms.
-- check: VerificationSid = the thread's share of SIDS_FILE (line i where i % THREADS == thread),
--        taken in turn, with a wrong Code.
-- done() prints one line "BENCH_RESULT {json}" that bench/load.py reads, with 1000 latency
-- quantiles so that bench/run.py can pool several runs of a phase.

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
local sids = {}

function init(args)
  path, auth, mode = args[1], args[2], args[3]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = auth
  if mode == "start" then
    prefix, base, span = args[4], tonumber(args[5]), tonumber(args[6])
  elseif mode == "check" then
    local threads = tonumber(args[5])
    code = args[6]
    local line_index = 0
    for line in io.lines(args[4]) do
      if line_index % threads == thread_index then
        sids[#sids + 1] = line
      end
      line_index = line_index + 1
    end
    if #sids == 0 then
      error("no verification sids for thread " .. thread_index)
    end
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  local body
  if mode == "start" then
    local n = base + thread_index * span + counter % span
    body = "To=%2B" .. string.sub(prefix, 2) .. string.format("%06d", n) .. "&Channel=sms"
  else
    body = "VerificationSid=" .. sids[counter % #sids + 1] .. "&Code=" .. code
  end
  counter = counter + 1
  return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  -- 1000 quantiles (0.05 %, 0.15 % ... 99.95 %) so that runs can be pooled afterwards.
  local quantiles = {}
  for i = 0, 999 do
    quantiles[#quantiles + 1] = tostring(latency:percentile((i + 0.5) / 10))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d},'
      .. '"quantiles_us":[%s]}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, table.concat(quantiles, ",")))
end
