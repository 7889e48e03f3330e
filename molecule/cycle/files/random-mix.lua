-- wrk script: the demo's mixed requests (demo/load/mixed.lua: the same paths in the same proportions,
-- 25 ms between a connection's requests), each path drawn at random instead of in turn.
-- In turn, the paths repeat every 5 requests, and a load balancer's weighted round robin gives a
-- 5 % canary exactly every 20th request (19:1): the canary would get one path only, and never the
-- 50 queries its query_timeout_rate needs. Drawn at random, every share gets the whole mix.
local paths = {"/api/markets", "/api/graph", "/api/query?q=markets", "/api/markets", "/"}

math.randomseed(os.time())

request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end

delay = function()
  return 25
end
