-- wrk script: the demo service's endpoints, so that every criterion has samples.
-- A steady load, not a stress test: each connection waits 25 ms between its requests (at most
-- 40 requests a second a connection), so that the load leaves the machine's CPU to what it watches.
-- Each path is drawn at random, in these proportions: sent in turn, the paths would repeat every 5
-- requests, and a load balancer's weighted round robin gives a 5 % canary exactly every 20th
-- request (19:1), so that canary would get one path only. Drawn at random, every share gets the mix.
local paths = {"/api/markets", "/api/graph", "/api/query?q=markets", "/api/markets", "/"}

math.randomseed(os.time())

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end

delay = function()
  return 25
end
