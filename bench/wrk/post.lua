-- POST one JSON body with wrk; read by bench/harness.py.
-- Environment: BENCH_BODY (path of the JSON body), BENCH_AUTHORIZATION (header value, may
-- be empty), BENCH_UNIQUE_KEYS ("1": a new Idempotency-Key on every request), BENCH_CLOSE
-- ("1": Connection: close, a new connection for every request).
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local authorization = os.getenv("BENCH_AUTHORIZATION") or ""
if authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
if os.getenv("BENCH_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end
local unique_keys = os.getenv("BENCH_UNIQUE_KEYS") == "1"

local thread_ids = 0
function setup(thread)
  thread_ids = thread_ids + 1
  thread:set("thread_id", thread_ids)
end

local counter = 0
local prefix = nil
function request()
  if not unique_keys then
    return wrk.request()
  end
  if prefix == nil then
    prefix = string.format("bench-%d-%d-%d-", os.time(), thread_id or 0, math.random(1, 1e9))
  end
  counter = counter + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Idempotency-Key"] = prefix .. counter
  return wrk.format(nil, nil, headers, nil)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout + errors.status,
    latency:percentile(50), latency:percentile(99)))
end
