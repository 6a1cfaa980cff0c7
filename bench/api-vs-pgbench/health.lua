-- wrk: GET /health (no database, no token), each connection waiting PACE_MS milliseconds
-- between its requests, so that the server sees about the rate of the measured writes. What
-- care-server spends per request here is the floor under every API request on this box: HTTP,
-- the middleware, a task and the threads it wakes, with no statement sent.
function init(args)
   pace = tonumber(os.getenv("PACE_MS"))
end

function delay()
   return pace
end

function request()
   return wrk.format("GET", "/health")
end

dofile(os.getenv("BENCH_DIR") .. "/latencies.lua")
