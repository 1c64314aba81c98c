-- wrk script for the bench: form-encoded POSTs with HTTP Basic auth (bench/load.py runs it).
--   wrk ... -s form_post.lua URL -- PATH AUTH start PREFIX BASE SPAN [RATE_LIMIT]
--   wrk ... -s form_post.lua URL -- PATH AUTH check SIDS_FILE THREADS CODE
--   wrk ... -s form_post.lua URL -- PATH AUTH lines LINES_FILE THREADS
-- start: To = PREFIX .. (BASE + thread * SPAN + counter % SPAN) as 6 digits, Channel=sms;
--        with RATE_LIMIT, also RateLimits={"RATE_LIMIT":"<the same 6 digits>"}: a value of its
--        own per request (bench/services.py).
-- check: VerificationSid = the thread's share of SIDS_FILE (line i where i % THREADS == thread),
--        taken in turn, with a wrong Code.
-- lines: each line of LINES_FILE is "PATH<TAB>BODY" (bench/mfa.py writes them: a TOTP challenge
--        per line, each with its own factor and code); the thread's share (line i where
--        i % THREADS == thread) taken in turn. A 201 answer is counted by the `status` in its
--        body too ("201:approved", "201:denied").
-- done() prints one line "BENCH_RESULT {json}" that bench/load.py reads, with 1000 latency
-- quantiles so that bench/run.py can pool several runs of a phase, and the count of every
-- HTTP status answered (response() counts them per thread; done() adds the threads up).

local next_thread = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  threads[#threads + 1] = thread
end

local counter = 0
local sids = {}
local paths = {}
local bodies = {}
statuses = {}

function init(args)
  path, auth, mode = args[1], args[2], args[3]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = auth
  if mode == "start" then
    prefix, base, span = args[4], tonumber(args[5]), tonumber(args[6])
    rate_limit = args[7]
    if rate_limit == "" then
      rate_limit = nil
    end
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
  elseif mode == "lines" then
    local threads = tonumber(args[5])
    local line_index = 0
    for line in io.lines(args[4]) do
      if line_index % threads == thread_index then
        local tab = string.find(line, "\t", 1, true)
        paths[#paths + 1] = string.sub(line, 1, tab - 1)
        bodies[#bodies + 1] = string.sub(line, tab + 1)
      end
      line_index = line_index + 1
    end
    if #paths == 0 then
      error("no lines for thread " .. thread_index)
    end
  else
    error("unknown mode " .. tostring(mode))
  end
end

function request()
  local body
  if mode == "lines" then
    local index = counter % #paths + 1
    counter = counter + 1
    return wrk.format(nil, paths[index], nil, bodies[index])
  elseif mode == "start" then
    local digits = string.format("%06d", base + thread_index * span + counter % span)
    body = "To=%2B" .. string.sub(prefix, 2) .. digits .. "&Channel=sms"
    if rate_limit then
      body = body .. "&RateLimits=%7B%22" .. rate_limit .. "%22%3A%22" .. digits .. "%22%7D"
    end
  else
    body = "VerificationSid=" .. sids[counter % #sids + 1] .. "&Code=" .. code
  end
  counter = counter + 1
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  local key = tostring(status)
  if mode == "lines" and status == 201 then
    key = key .. ":" .. (string.match(body, '"status":%s*"(%a+)"') or "?")
  end
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local status_json = {}
  for status, count in pairs(counts) do
    status_json[#status_json + 1] = string.format('"%s":%d', status, count)
  end
  -- 1000 quantiles (0.05 %, 0.15 % ... 99.95 %) so that runs can be pooled afterwards.
  local quantiles = {}
  for i = 0, 999 do
    quantiles[#quantiles + 1] = tostring(latency:percentile((i + 0.5) / 10))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d},'
      .. '"quantiles_us":[%s],"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, table.concat(quantiles, ","), table.concat(status_json, ",")))
end
