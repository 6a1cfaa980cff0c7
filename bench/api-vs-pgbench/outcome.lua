-- wrk: each request records a failed outcome for a trial nobody has touched yet.
-- TRIALS (a file of trial ids, one per line) and TOKEN come from the environment.
local counter = 0
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   trials = {}
   local i = 0
   for line in io.lines(os.getenv("TRIALS")) do
      if i % counter_total() == id then table.insert(trials, line) end
      i = i + 1
   end
   next_trial = 1
   body = '{"outcome": "non-response", "stopped_on": "' .. os.getenv("STOPPED_ON") .. '", "adherence": 0.9}'
   headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json" }
end

function counter_total()
   return tonumber(os.getenv("WRK_THREADS"))
end

function request()
   local trial = trials[next_trial]
   next_trial = next_trial + 1
   if trial == nil then
      trial = "00000000-0000-0000-0000-000000000000" -- ran out: a 404 shows up as a non-2xx answer
   end
   return wrk.format("POST", "/v1/trials/" .. trial .. "/outcome", headers, body)
end

dofile(os.getenv("BENCH_DIR") .. "/latencies.lua")
