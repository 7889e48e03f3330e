-- wrk script: the demo service's endpoints in turn, so that every criterion has samples.
local paths = {"/api/markets", "/api/graph", "/api/query?q=markets", "/api/markets", "/"}
local next_path = 0

request = function()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path])
end
