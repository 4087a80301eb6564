-- Count the responses by their X-Worker header (the pid of the worker that
-- answered) and print one "worker PID COUNT" line per worker at the end.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
end

function response(status, headers, body)
  local worker = headers["X-Worker"] or headers["x-worker"] or "none"
  counts[worker] = (counts[worker] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for worker, count in pairs(thread:get("counts")) do
      io.write(string.format("worker %s %d\n", worker, count))
    end
  end
end
