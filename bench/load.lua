-- wrk script for bench/run.py: one POST per request, a unique Idempotency-Key on each,
-- and a count of every status code, printed as one JSON line at the end.
--
-- Arguments (after `--`): <path> <body file> <key prefix> [bearer token] [expected text]
-- With a token the request is authenticated; the reference endpoint gets none. With an expected
-- text, a 2xx response whose body lacks it is counted as unexpected (e.g. a payment not captured).

local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

function init(args)
   path = args[1]
   local f = assert(io.open(args[2], "rb"))
   body = f:read("*a")
   f:close()
   prefix = args[3] .. "-" .. tid .. "-"
   headers = {["Content-Type"] = "application/json"}
   if args[4] and args[4] ~= "" then
      headers["Authorization"] = "Bearer " .. args[4]
   end
   expected = args[5]
   if expected == "" then expected = nil end
   counter = 0
   statuses = {}
   unexpected = 0
end

function request()
   counter = counter + 1
   headers["Idempotency-Key"] = prefix .. counter
   return wrk.format("POST", path, headers, body)
end

function response(status, resp_headers, resp_body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if expected and status >= 200 and status < 300 and not string.find(resp_body, expected, 1, true) then
      unexpected = unexpected + 1
   end
end

function done(summary, latency, requests)
   local counts = {}
   local bad_bodies = 0
   for _, thread in ipairs(threads) do
      bad_bodies = bad_bodies + (thread:get("unexpected") or 0)
      local t = thread:get("statuses")
      if t then
         for code, n in pairs(t) do
            counts[code] = (counts[code] or 0) + n
         end
      end
   end
   local parts = {}
   for code, n in pairs(counts) do
      table.insert(parts, string.format('"%s": %d', code, n))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "statuses": {%s}, "unexpected": %d, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f}}\n',
      summary.requests, summary.duration, table.concat(parts, ", "), bad_bodies,
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end
