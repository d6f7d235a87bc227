-- glrun serve's pure parts, without a socket: the router (routes, 404s,
-- traversal), the credential rules, the metrics text, the access-log line,
-- the fallback candidates (docs/serve.md).
local router = require "gemini.gateway_router"
local gauth = require "gemini.gateway_auth"
local metrics = require "gemini.gateway_metrics"
local glog = require "gemini.gateway_log"
local grest = require "gemini.gateway_rest"
local gateway = require "gemini.gateway"

local n = 0
local function check(what, cond)
  n = n + 1
  if not cond then error("not ok - " .. what, 2) end
  print("ok - " .. what)
end

-- routes
local r = router.match("POST", "/v1beta/models/gemini-2.5-flash:generateContent")
check("generateContent route", r and r.name == "rest" and r.model == "gemini-2.5-flash" and r.kind == "generate" and r.version == "v1beta")
r = router.match("POST", "/v1/models/gemini-2.5-flash:streamGenerateContent")
check("stream route (v1)", r and r.kind == "stream" and r.version == "v1")
check("countTokens route", router.match("POST", "/v1beta/models/m:countTokens").kind == "count")
check("models.list route", router.match("GET", "/v1beta/models").name == "models")
check("models.get route", router.match("GET", "/v1beta/models/gemini-2.5-flash").model == "gemini-2.5-flash")
check("GET on generateContent is no route", router.match("GET", "/v1beta/models/m:generateContent") == nil)
check("unknown method is no route", router.match("POST", "/v1beta/models/m:deleteEverything") == nil)
check("unknown version is no route", router.match("POST", "/v9/models/m:generateContent") == nil)
local live = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
check("Live route", router.match("GET", live).name == "live")
check("Live route with the SDK's leading //", router.match("GET", "/" .. live).name == "live")
r = router.match("GET", "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent")
check("the slash form of the Live path is not the Live route", r == nil or r.name ~= "live")
check("/token, /metrics, /api/chat", router.match("POST", "/token").name == "token"
  and router.match("GET", "/metrics").name == "metrics" and router.match("POST", "/api/chat").name == "chat")
check("/ is the index asset", router.match("GET", "/").asset == "/index.html")
check("/app.js is an asset", router.match("GET", "/app.js").asset == "/app.js")
for _, p in ipairs{ "/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/", "/a/../../etc/passwd", "/.env",
                    "/static/%2f..%2f", "/x\0y" } do
  check("traversal is no route: " .. p:gsub("%z", "\\0"), router.match("GET", p) == nil)
end
-- //etc/passwd: one leading slash run, then an asset name that is not embedded (a 404 later)
check("//etc/passwd is an asset lookup, not a file", router.match("GET", "//etc/passwd").asset == "/etc/passwd")
check("a model with a traversal is no route", router.match("POST", "/v1beta/models/..%2f..:generateContent") == nil)
check("a percent-encoded model id is decoded", router.match("POST", "/v1beta/models/gemini%2D2.5:countTokens").model == "gemini-2.5")
check("label", router.label(router.match("POST", "/v1beta/models/m:countTokens")) == "countTokens"
  and router.label(nil) == "unknown")

-- credentials
local function hdr(t) return function(name) return t[name] end end
check("Bearer credential", gauth.credential(hdr{ authorization = "Bearer abc" }, "") == "abc")
check("x-goog-api-key credential", gauth.credential(hdr{ ["x-goog-api-key"] = "k2" }, "") == "k2")
check("?key= credential", gauth.credential(hdr{}, "alt=sse&key=k%2B3") == "k+3")
check("no credential", gauth.credential(hdr{}, "alt=sse") == nil)
check("equal", gauth.equal("abc", "abc") and not gauth.equal("abc", "abd") and not gauth.equal("abc", "abcd"))
check("check without tokens accepts anything", gauth.check(nil, nil) and gauth.check(nil, "x"))
check("check with tokens", gauth.check({ "t1", "t2" }, "t2") and not gauth.check({ "t1" }, "t2") and not gauth.check({ "t1" }, nil))
check("loopback", gauth.loopback("127.0.0.1") and gauth.loopback("::1") and gauth.loopback("[::1]")
  and gauth.loopback("localhost") and not gauth.loopback("0.0.0.0") and not gauth.loopback("10.0.0.1"))
local tmp = os.tmpname()
local f = assert(io.open(tmp, "w")); f:write("# tokens\n  tok-one  \n\ntok-two\n"); f:close()
local toks = assert(gauth.load(tmp))
check("token file", #toks == 2 and toks[1] == "tok-one" and toks[2] == "tok-two")
check("tokens are secrets", not gl.redact("x tok-one y"):find("tok-one", 1, true))
f = assert(io.open(tmp, "w")); f:write("# none\n"); f:close()
local none, nerr = gauth.load(tmp)
check("an empty token file is a config error", none == nil and nerr.kind == "config")
os.remove(tmp)
local missing, merr = gauth.load("/nonexistent/tokens.txt")
check("a missing token file is a config error", missing == nil and merr.kind == "config")
check("API_KEY_INVALID shape", gauth.API_KEY_INVALID.error.code == 400
  and gauth.API_KEY_INVALID.error.details[1].reason == "API_KEY_INVALID")

-- --listen
local h, p = gateway.parse_listen("0.0.0.0:9000")
check("parse_listen host:port", h == "0.0.0.0" and p == 9000)
h, p = gateway.parse_listen("[::1]:0")
check("parse_listen [v6]:port", h == "::1" and p == 0)
check("parse_listen bad", gateway.parse_listen("nope") == nil)
local g, gerr = gateway.new{ host = "0.0.0.0", port = 0 }
check("a non-loopback listen without tokens is refused", g == nil and gerr.kind == "config"
  and gerr.message:find("access%-token%-file"))

-- metrics
local m = metrics.new()
m:inc("glrun_gateway_requests_total", { route = "generateContent", status = "200" })
m:inc("glrun_gateway_requests_total", { route = "generateContent", status = "200" }, 2)
m:add("glrun_gateway_live_sessions_open", 1)
m:observe("glrun_gateway_upstream_first_token_seconds", 0.02, { transport = "rest" })
m:inc("page_turns_total")
local text = m:text()
check("counter text", text:find('glrun_gateway_requests_total{route="generateContent",status="200"} 3', 1, true))
check("counter type", text:find("# TYPE glrun_gateway_requests_total counter", 1, true))
check("gauge", text:find("# TYPE glrun_gateway_live_sessions_open gauge", 1, true)
  and text:find("glrun_gateway_live_sessions_open 1", 1, true))
check("histogram", text:find('glrun_gateway_upstream_first_token_seconds_bucket{transport="rest",le="0.025"} 1', 1, true)
  and text:find('glrun_gateway_upstream_first_token_seconds_bucket{transport="rest",le="0.01"} 0', 1, true)
  and text:find('glrun_gateway_upstream_first_token_seconds_count{transport="rest"} 1', 1, true))
check("an undeclared name is a counter", text:find("# TYPE page_turns_total counter", 1, true))
check("value", m:value("glrun_gateway_requests_total", { route = "generateContent", status = "200" }) == 3)
check("bad metric name raises", not pcall(m.inc, m, "bad name"))

-- access log
gl.secret("AIzaSySECRET-log-test-0000")
local line = glog.line{ time = 0, client = "127.0.0.1", method = "POST",
  path = "/v1beta/models/x:generateContent?key=AIzaSySECRET-log-test-0000", model = "x\nforged line",
  transport = "rest", status = 200, first_token = 0.0123, total = 0.05 }
check("log line fields", line:find("^1970%-01%-01T00:00:00Z 127%.0%.0%.1 POST /v1beta/models/x:generateContent model=x_forged_line transport=rest status=200 first_token_ms=12 total_ms=50$") ~= nil)
check("log line has no query, no secret", not line:find("key=", 1, true) and not line:find("SECRET", 1, true))

-- fallback candidates
local pol = { chain = { rest = { "a", "b", "c" }, live = { "l1" } }, transports = { "live", "rest" }, entry = function(e) return e end }
local cands = grest.candidates("b", pol)
check("a chain model falls forward along the chain", #cands == 2 and cands[1] == "b" and cands[2] == "c")
cands = grest.candidates("zzz", pol)
check("a model outside the chain is passed through", #cands == 1 and cands[1] == "zzz")
check("live_first for a Live chain model", grest.live_first("l1", pol) and not grest.live_first("a", pol))
check("status_body", grest.status_body(404, "no").find and grest.status_body(404, "no"):find('"status":"NOT_FOUND"', 1, true))

print(("serve units ok: %d checks"):format(n))
