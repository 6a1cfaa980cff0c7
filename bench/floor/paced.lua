-- wrk: GET /health, each connection pausing PACE_MS milliseconds between its requests.
function init(args)
   pace = tonumber(os.getenv("PACE_MS"))
end

function delay()
   return pace
end

function request()
   return wrk.format("GET", "/health")
end
