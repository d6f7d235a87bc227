-- gemini.gateway_metrics — the gateway's counters, gauges and histograms,
-- and their Prometheus text exposition (GET /metrics; docs/serve.md#metrics).
--
--   local m = metrics.new()
--   m:inc("glrun_gateway_requests_total", { route = "generateContent", status = "200" })
--   m:observe("glrun_gateway_upstream_first_token_seconds", 0.012, { transport = "rest" })
--   m:add("glrun_gateway_live_sessions_open", 1)       -- a gauge: up and down
--   print(m:text())
--
-- A name not declared below is a counter (a handler may count what it
-- likes: ctx.metrics:inc("glrun_gateway_chat_turns_total")).
local M = {}

local Metrics = {}
Metrics.__index = Metrics

M.BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 }

-- what the gateway itself reports
M.declared = {
  glrun_gateway_requests_total = { "counter", "Requests answered, by route and HTTP status" },
  glrun_gateway_fallbacks_total = { "counter", "Requests answered by another model or transport than asked" },
  glrun_gateway_retries_total = { "counter", "Upstream attempts repeated after a retryable failure" },
  glrun_gateway_rate_limited_total = { "counter", "Requests refused by the per-client rate limit" },
  glrun_gateway_live_sessions_open = { "gauge", "Live WebSocket sessions open through the gateway" },
  glrun_gateway_client_queue_max_bytes = { "gauge", "Most bytes ever queued for one slow client (backpressure bounds it)" },
  glrun_gateway_live_reconnects_total = { "counter", "Upstream Live reconnections hidden from clients (goAway, drops)" },
  glrun_gateway_upstream_first_token_seconds = { "histogram", "Upstream latency to the first answer byte or message" },
}

--- A new, empty registry.
function M.new()
  return setmetatable({ series = {}, order = {} }, Metrics)
end

local function check_name(fn, name)
  if type(name) ~= "string" or not name:match("^[%a_:][%w_:]*$") then
    error(("gateway_metrics:%s: bad metric name %s"):format(fn, tostring(name)), 3)
  end
end

-- label values escaped as the text format wants
local function esc(v)
  return (tostring(v):gsub("[\\\n\"]", { ["\\"] = "\\\\", ["\n"] = "\\n", ['"'] = '\\"' }))
end

local function label_text(labels, extra)
  local keys = {}
  for k in pairs(labels or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = ('%s="%s"'):format(k, esc(labels[k])) end
  if extra then out[#out + 1] = extra end
  return #out > 0 and ("{" .. table.concat(out, ",") .. "}") or ""
end

function Metrics:_get(name, labels, kind)
  local fam = self.series[name]
  if not fam then
    local d = M.declared[name]
    fam = { kind = d and d[1] or kind, help = d and d[2] or name, values = {}, keys = {} }
    self.series[name] = fam
    self.order[#self.order + 1] = name
  end
  local key = label_text(labels)
  local v = fam.values[key]
  if v == nil then
    if fam.kind == "histogram" then
      v = { counts = {}, sum = 0, count = 0, labels = labels or {} }
      for i = 1, #M.BUCKETS do v.counts[i] = 0 end
    else
      v = { value = 0 }
    end
    fam.values[key] = v
    fam.keys[#fam.keys + 1] = key
  end
  return fam, v
end

--- Add n (default 1) to a counter.
function Metrics:inc(name, labels, n)
  check_name("inc", name)
  if labels ~= nil and type(labels) ~= "table" then error("gateway_metrics:inc: labels must be a table", 2) end
  local _, v = self:_get(name, labels, "counter")
  v.value = v.value + (n or 1)
end

--- Add n (may be negative) to a gauge.
function Metrics:add(name, n, labels)
  check_name("add", name)
  if type(n) ~= "number" then error("gateway_metrics:add: n must be a number", 2) end
  local _, v = self:_get(name, labels, "gauge")
  v.value = v.value + n
end

--- Set a gauge to v.
function Metrics:set(name, v, labels)
  check_name("set", name)
  if type(v) ~= "number" then error("gateway_metrics:set: v must be a number", 2) end
  local _, e = self:_get(name, labels, "gauge")
  e.value = v
end

--- Record one observation (seconds) in a histogram.
function Metrics:observe(name, seconds, labels)
  check_name("observe", name)
  if type(seconds) ~= "number" then error("gateway_metrics:observe: seconds must be a number", 2) end
  local fam, v = self:_get(name, labels, "histogram")
  if fam.kind ~= "histogram" then return end
  for i, b in ipairs(M.BUCKETS) do
    if seconds <= b then v.counts[i] = v.counts[i] + 1 end
  end
  v.sum = v.sum + seconds
  v.count = v.count + 1
end

--- The current value of a counter or gauge (0 when never set).
function Metrics:value(name, labels)
  local fam = self.series[name]
  local v = fam and fam.values[label_text(labels)]
  return v and (v.value or v.count) or 0
end

--- The Prometheus text exposition (version 0.0.4) of every series.
function Metrics:text()
  local out = {}
  for _, name in ipairs(self.order) do
    local fam = self.series[name]
    out[#out + 1] = ("# HELP %s %s"):format(name, fam.help)
    out[#out + 1] = ("# TYPE %s %s"):format(name, fam.kind)
    for _, key in ipairs(fam.keys) do
      local v = fam.values[key]
      if fam.kind == "histogram" then
        for i, b in ipairs(M.BUCKETS) do
          out[#out + 1] = ("%s_bucket%s %d"):format(name, label_text(v.labels, ('le="%s"'):format(b)), v.counts[i])
        end
        out[#out + 1] = ("%s_bucket%s %d"):format(name, label_text(v.labels, 'le="+Inf"'), v.count)
        out[#out + 1] = ("%s_sum%s %.6f"):format(name, key, v.sum)
        out[#out + 1] = ("%s_count%s %d"):format(name, key, v.count)
      else
        local n = v.value
        out[#out + 1] = ("%s%s %s"):format(name, key, math.type(n) == "integer" and tostring(n) or ("%.6g"):format(n))
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
