-- gemini.diagnose as the doctor extends it: REST refusals read as
-- precisely as Live closes, a handshake 404 read with the doctor's
-- probes, a server's clock; and the doctor's cause for each.
local diagnose = require "gemini.diagnose"
local doctor = require "gemini.doctor"
local json = require "glrun.json"

local failures = 0
local function check(what, cond, got)
  if cond then print("ok - " .. what) else failures = failures + 1; print("not ok - " .. what .. ": " .. tostring(got)) end
end

local function http(status, g)
  return gl.error("http", "HTTP " .. status, { status = status, error = g })
end
local function info(reason) return { { ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo", reason = reason } } end

local cases = {
  { "API_KEY_INVALID", http(400, { code = 400, status = "INVALID_ARGUMENT", message = "API key not valid. Please pass a valid API key.",
      details = info("API_KEY_INVALID") }), "bad_key", "bad_key" },
  { "an expired key", http(400, { code = 400, status = "INVALID_ARGUMENT", message = "API key expired. Please renew the API key.",
      details = info("API_KEY_INVALID") }), "key_expired", "key_expired" },
  { "a region refusal", http(400, { code = 400, status = "FAILED_PRECONDITION",
      message = "User location is not supported for the API use." }), "region", "region" },
  { "a disabled API", http(403, { code = 403, status = "PERMISSION_DENIED",
      message = "Generative Language API has not been used in project 123 before or it is disabled.",
      details = info("SERVICE_DISABLED") }), "api_disabled", "api_disabled" },
  { "another 403", http(403, { code = 403, status = "PERMISSION_DENIED", message = "The caller does not have permission" }),
    "refused", "refused" },
}
for _, c in ipairs(cases) do
  local d = diagnose.of(c[2], { transport = "rest" })
  check(c[1] .. ": diagnosis " .. c[3], d.kind == c[3] and d.fatal == true, d.kind)
  check(c[1] .. ": doctor cause " .. c[4], doctor.cause_of(d, c[2]) == c[4], doctor.cause_of(d, c[2]))
end

-- a handshake 404 with the doctor's probes
local e404 = gl.error("ws_handshake", "HTTP 404", { status = 404 })
local function with(probes) return diagnose.of(e404, { transport = "live", url = "wss://h/ws/x", probes = probes }) end
check("no probes: endpoint", diagnose.of(e404, { transport = "live", url = "wss://h/ws/x" }).kind == "endpoint")
check("direct 101 through a proxy: proxy_upgrade", with{ proxy = "http://p:1", direct = 101, variants = {} }.kind == "proxy_upgrade")
check("a proxy, direct 404 too, nothing else: endpoint", with{ proxy = "http://p:1", direct = 404, variants = {} }.kind == "endpoint")
check("another path answers: wrong_path",
  with{ variants = { { label = "v1alpha", why = "version", status = 404 }, { label = "root", why = "path", status = 101 } } }.kind == "wrong_path")
local dv = with{ variants = { { label = "API version v1beta", why = "version", status = 101, fix = "GOOGLE_GENAI_API_VERSION=v1beta" } } }
check("another version answers: wrong_api_version", dv.kind == "wrong_api_version", dv.kind)
check("... and the fix names it", dv.hint == "GOOGLE_GENAI_API_VERSION=v1beta", dv.hint)
check("a REST 404 with another version answering: wrong_api_version",
  diagnose.of(http(404, { code = 404, status = "NOT_FOUND", message = "x" }), { transport = "rest", api_version = "v2",
    probes = { version_ok = "v1beta" } }).kind == "wrong_api_version")
check("a REST 404 alone: not_found", diagnose.of(http(404, { code = 404, status = "NOT_FOUND", message = "x" })).kind == "not_found")

-- Vertex AI's Live "model not found"
local vx = gl.error("ws_closed", "closed", { close_code = 1008,
  reason = "Publisher Model `projects/p/locations/l/publishers/google/models/m` was not found or your project does not have access to it." })
check("Vertex AI's 1008 Publisher Model not found: model", diagnose.of(vx, { transport = "live", model = "m" }).kind == "model")

-- the clock
check("1 h off: clock_skew", diagnose.clock(3600).kind == "clock_skew")
check("-1 h off: clock_skew", diagnose.clock(-3600).kind == "clock_skew")
check("2 s off: clock_ok", diagnose.clock(2).kind == "clock_ok")
check("a skew's cause", doctor.cause_of(diagnose.clock(900)) == "clock_skew")

-- quota: per minute vs per day, from QuotaFailure
local function q429(id)
  return http(429, { code = 429, status = "RESOURCE_EXHAUSTED", message = "quota", details = {
    { ["@type"] = "type.googleapis.com/google.rpc.QuotaFailure", violations = { { quotaId = id } } } } })
end
local qm = q429("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")
local qd = q429("GenerateRequestsPerDayPerProjectPerModel-FreeTier")
check("per-minute 429: quota_minute", doctor.cause_of(diagnose.of(qm), qm) == "quota_minute")
check("per-day 429: quota_day", doctor.cause_of(diagnose.of(qd), qd) == "quota_day")

-- the report: JSON parses, the text redacts a secret that reached a message
gl.secret("AIzaSyDIAG-secret-0042")
local report = { ok = false, ms = 5, checks = {
  { name = "key", ok = false, saw = "sent AIzaSyDIAG-secret-0042", cause = "key invalid", cause_id = "bad_key", fix = "f", ms = 1 },
  { name = "clock", ok = nil, skipped = true, saw = "not compared" } } }
local text = doctor.render(report, { ascii = true })
check("the text report redacts", not text:find("DIAG-secret", 1, true) and text:find("***", 1, true) ~= nil, text)
check("ASCII marks", text:find("\nFAIL key", 1, true) ~= nil and text:find("\nskip clock", 1, true) ~= nil, text)
local doc = json.decode(doctor.render(report, { json = true }))
check("the JSON report parses", type(doc) == "table" and doc.ok == false and #doc.checks == 2, doc)
check("a skipped check is ok = null in JSON", doc and doc.checks[2].ok == json.null)
check("the JSON report redacts", doc and doc.checks[1].saw == "sent ***", doc and doc.checks[1].saw)

if failures > 0 then error(failures .. " check(s) failed", 0) end
