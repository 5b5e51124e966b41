-- wrk script for catalog's POST /stock-holds (what orders sends at checkout): every request holds one unit of one
-- SKU for a new order id. Read from the environment (bench/catalog_holds.py sets them):
--   BENCH_WRK_SKU   the SKU held
--   BENCH_WRK_RUN   a token unique to this wrk run (order ids never repeat across runs)
-- done() prints one line "WRK_JSON {...}" as bench/checkout.lua's does.

local sku = os.getenv("BENCH_WRK_SKU") or "BENCH-1"
local run = os.getenv("BENCH_WRK_RUN") or tostring(os.time())
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

local body_format = '{"order_id":"%s","lines":[{"sku":"%s","quantity":1}],'
   .. '"customer_email":"wrk-%s@example.com","customer_segments":[]}'

function request()
   sent = sent + 1
   local order_id = prefix .. "-" .. sent
   local headers = { ["Content-Type"] = "application/json" }
   return wrk.format("POST", "/stock-holds", headers, string.format(body_format, order_id, sku, order_id))
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
