-- wrk script: the demo service's endpoints in turn, so that every criterion has samples.
-- A steady load, not a stress test: each connection waits 25 ms between its requests (at most
-- 40 requests a second a connection), so that the load leaves the machine's CPU to what it watches.
local paths = {"/api/markets", "/api/graph", "/api/query?q=markets", "/api/markets", "/"}
local next_path = 0

request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end

delay = function()
  return 25
end
