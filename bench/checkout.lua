-- wrk script for POST /v1/orders: every request is a new buyer (own Idempotency-Key and email) of one unit of
-- one SKU, the body bench/shop.py's Python client sends. Read from the environment (bench/wrk.py sets them):
--   BENCH_WRK_SKU   the SKU bought
--   BENCH_WRK_RUN   a token unique to this wrk run (keys and emails never repeat across runs)
--   BENCH_WRK_PATH  the path (default /v1/orders; the direct-PostgreSQL floor serves the same one)
-- done() prints one line "WRK_JSON {...}": requests, errors, latency percentiles (µs) and answers by status.

local sku = os.getenv("BENCH_WRK_SKU") or "BENCH-1"
local run = os.getenv("BENCH_WRK_RUN") or tostring(os.time())
local path = os.getenv("BENCH_WRK_PATH") or "/v1/orders"
local threads = {}

function setup(thread)
   thread:set("thread_number", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   statuses = {}
   sent = 0
   prefix = run .. "-" .. thread_number
end

local body_format = '{"email":"wrk-%s@example.com","locale":"ko","currency":"KRW",'
   .. '"lines":[{"sku":"%s","quantity":1}],'
   .. '"shipping_address":{"name":"Kim Minsu","line1":"Teheran-ro 1","city":"Seoul",'
   .. '"postal_code":"06236","country":"KR"},'
   .. '"shipping_method":"standard","payment":{"token":"tok_visa"}}'

function request()
   sent = sent + 1
   local key = prefix .. "-" .. sent
   local headers = { ["Content-Type"] = "application/json", ["Idempotency-Key"] = key }
   return wrk.format("POST", path, headers, string.format(body_format, key, sku))
end

function response(status, headers, body)
   local name = tostring(status)
   statuses[name] = (statuses[name] or 0) + 1
end

function done(summary, latency, requests)
   local merged = {}
   for _, thread in ipairs(threads) do
      local counts = thread:get("statuses") or {}
      for status, count in pairs(counts) do
         merged[status] = (merged[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(merged) do
      table.insert(parts, string.format('"%s":%d', status, count))
   end
   local errors = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      table.concat(parts, ",")))
end
