-- wrk script: a constant load rather than a stress test. Each connection waits 20 ms between its
-- requests (at most 50 a second a connection), so that the scenarios beside this one keep their CPU.
delay = function()
  return 20
end
