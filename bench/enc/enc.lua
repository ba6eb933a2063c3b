-- wrk script for the ENC benchmark: random certnames among NODES nodes; GET, or POST with the
-- fact set in BODY_FILE. Environment: ENC_TOKEN, ENC_METHOD (GET|POST), BODY_FILE, NODES.
local token = os.getenv("ENC_TOKEN")
local method = os.getenv("ENC_METHOD") or "GET"
local nodes = tonumber(os.getenv("NODES") or "50000")
local body = nil
if method == "POST" then
  local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  body = f:read("*a")
  f:close()
end
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
local statuses = {}
local threads = {}
hits = 0

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(seed)
end

request = function()
  local path = string.format("/enc/v1/nodes/bench-%05d.example", math.random(0, nodes - 1))
  return wrk.format(method, path, headers, body)
end

response = function(status, headers, body)
  if status ~= 200 then
    statuses[status] = (statuses[status] or 0) + 1
  end
  -- granian sends header names in lower case, gunicorn as the application wrote them
  if (headers["x-stagehand-answer-cache"] or headers["X-Stagehand-Answer-Cache"]) == "hit" then
    hits = hits + 1
  end
end

done = function(summary, latency, requests)
  local all_hits = 0
  for _, thread in ipairs(threads) do
    all_hits = all_hits + (thread:get("hits") or 0)
  end
  io.write(string.format("RESULT method=%s requests=%d duration_s=%.1f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d non2xx=%d answer_cache_hits=%.0f%%\n",
    method, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, 100 * all_hits / math.max(summary.requests, 1)))
end
