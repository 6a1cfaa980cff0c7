-- wrk: GET my queue.
function init(args)
   headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }
end

function request()
   return wrk.format("GET", "/v1/tasks", headers)
end

dofile(os.getenv("BENCH_DIR") .. "/latencies.lua")
