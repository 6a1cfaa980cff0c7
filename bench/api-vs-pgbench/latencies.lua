-- wrk, loaded by outcome.lua and queue.lua: at the end of a run, writes "requests seconds" and
-- then every distinct latency (microseconds) with its count to $LATENCIES, so the run script can
-- merge several rounds into one distribution.
function done(summary, latency, requests)
   local out = io.open(os.getenv("LATENCIES"), "w")
   out:write(string.format("%d %.6f\n", summary.requests, summary.duration / 1e6))
   local k = 1
   while true do
      local value, count = latency(k)
      if value == nil or value == 0 then break end
      out:write(string.format("%d %d\n", value, count))
      k = k + 1
   end
   out:close()
end
