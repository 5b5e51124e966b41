-- wrk script for a flash drop driven open loop: buyer i arrives at START + i * INTERVAL whatever the answers, sends
-- one checkout of one unit (its own Idempotency-Key and email, the body bench/checkout.lua sends) and, told 429 or
-- 503 (`busy` from the gateway's admission control, or a service that did not answer in time), comes back after
-- Retry-After with the same key, as docs/integration.md tells a storefront to; any other answer is final. wrk keeps
-- its connections busy in a closed loop, so each connection's first request is a GET /health (sent at connect,
-- before START) and every later one waits in delay() until the arrival it carries.
-- Read from the environment (bench/wrk_drop.py sets them):
--   BENCH_DROP_SKU          the SKU bought
--   BENCH_DROP_RUN          a token unique to this run, in letters (keys and emails never repeat across runs)
--   BENCH_DROP_BUYERS       how many buyers arrive
--   BENCH_DROP_START_US     when the first arrives (microseconds since the epoch)
--   BENCH_DROP_INTERVAL_US  the time between two arrivals
--   BENCH_DROP_THREADS      wrk's -t (thread n of T takes buyers n-1, n-1+T, ...)
--   BENCH_DROP_COME_BACK_S  how long a buyer told 429 or 503 keeps coming back, from their arrival
--   BENCH_DROP_OUT          the path prefix of the answers: thread n writes <prefix><n>.tsv, one line a buyer:
--                           index, arrival, first sent, answered (microseconds since the epoch), status, problem
--                           code ("-" if none), order id ("-" if none), 429 and 503 answers before this one,
--                           and how many of those were not `busy`

local ffi = require("ffi")
ffi.cdef [[
struct drop_timeval { long tv_sec; long tv_usec; };
int gettimeofday(struct drop_timeval *tv, void *tz);
]]
local clock = ffi.new("struct drop_timeval")

local function now_us()
   ffi.C.gettimeofday(clock, nil)
   return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_usec)
end

local sku = os.getenv("BENCH_DROP_SKU") or "DROP-1"
local run = os.getenv("BENCH_DROP_RUN") or "drop"
local buyers = tonumber(os.getenv("BENCH_DROP_BUYERS") or "0")
local start = tonumber(os.getenv("BENCH_DROP_START_US") or "0")
local interval = tonumber(os.getenv("BENCH_DROP_INTERVAL_US") or "1000")
local thread_count = tonumber(os.getenv("BENCH_DROP_THREADS") or "1")
local come_back_us = tonumber(os.getenv("BENCH_DROP_COME_BACK_S") or "120") * 1000000
local out_prefix = os.getenv("BENCH_DROP_OUT") or "/tmp/drop-"
local IDLE_MS = 3600 * 1000 -- a connection with no buyer left waits past the end of the run
local threads = {}

local body_format = '{"email":"drop-%s@example.com","locale":"ko","currency":"KRW",'
   .. '"lines":[{"sku":"%s","quantity":1}],'
   .. '"shipping_address":{"name":"Kim Minsu","line1":"Teheran-ro 1","city":"Seoul",'
   .. '"postal_code":"06236","country":"KR"},'
   .. '"shipping_method":"standard","payment":{"token":"tok_visa"}}'

function setup(thread)
   thread:set("thread_number", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   next_buyer = thread_number - 1
   due = {}         -- buyers a connection is waiting to send, earliest first
   coming_back = {} -- buyers told 429 or 503, each with when they come back
   sent_at = {}
   out = io.open(out_prefix .. thread_number .. ".tsv", "w")
   out:setvbuf("line")
end

local function earliest(list)
   local best = nil
   for position, buyer in ipairs(list) do
      if best == nil or buyer.send_at < list[best].send_at then
         best = position
      end
   end
   return best
end

function delay()
   -- The buyer this connection sends next: whoever comes back first, or the next arrival.
   local back = earliest(coming_back)
   local arrival = nil
   if next_buyer < buyers then
      arrival = start + next_buyer * interval
   end
   local buyer
   if back ~= nil and (arrival == nil or coming_back[back].send_at <= arrival) then
      buyer = table.remove(coming_back, back)
   elseif arrival ~= nil then
      buyer = { index = next_buyer, arrival = arrival, send_at = arrival, turned_away = 0, not_busy = 0 }
      next_buyer = next_buyer + thread_count
   else
      return IDLE_MS
   end
   table.insert(due, buyer)
   table.sort(due, function(a, b) return a.send_at < b.send_at end)
   local wait = (buyer.send_at - now_us()) / 1000
   if wait <= 0 then
      return 0
   end
   return math.ceil(wait)
end

function request()
   if #due == 0 then
      return wrk.format("GET", "/health") -- the connection's first request, at connect
   end
   local buyer = table.remove(due, 1)
   local key = run .. "-" .. buyer.index
   if sent_at[buyer.index] == nil then
      sent_at[buyer.index] = { buyer = buyer, first = now_us() }
   end
   local headers = {
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = key,
      ["X-Request-Id"] = "drop-" .. key,
   }
   return wrk.format("POST", "/v1/orders", headers, string.format(body_format, key, sku))
end

local function header(headers, name)
   for key, value in pairs(headers) do
      if string.lower(key) == name then
         return value
      end
   end
   return nil
end

function response(status, headers, body)
   local id = header(headers, "x-request-id") or ""
   local index = tonumber(string.match(id, "^drop%-" .. run .. "%-(%d+)$") or "")
   if index == nil or sent_at[index] == nil then
      return -- a connection's GET /health
   end
   local now = now_us()
   local sent = sent_at[index]
   local buyer = sent.buyer
   local code = string.match(body or "", '"code"%s*:%s*"([%w_]+)"') or "-"
   if (status == 503 or status == 429) and now - buyer.arrival < come_back_us then
      local after = tonumber(header(headers, "retry-after") or "1") or 1
      buyer.turned_away = buyer.turned_away + 1
      if code ~= "busy" then
         buyer.not_busy = buyer.not_busy + 1
      end
      buyer.send_at = now + after * 1000000
      table.insert(coming_back, buyer)
      return
   end
   local order = "-"
   if status == 202 then
      order = string.match(body or "", '"id"%s*:%s*"([%w%-]+)"') or "-"
   end
   out:write(string.format("%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d\t%d\n",
      index, buyer.arrival, sent.first, now, status, code, order, buyer.turned_away, buyer.not_busy))
   sent_at[index] = nil
end
