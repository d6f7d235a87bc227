# A server that echoes the API key back (in a REST error's message, details
# and a header, and in a Live close reason) must not get it printed: every
# field of the error objects, every policy line of glrun ask / glrun chat,
# the --trace file and the --record cassettes are redacted.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/secrets.sh"
start_hostile echo-key
KEY=$HOSTILE_KEY

run "$GLRUN" ask "hello"
expect_eq "glrun ask (REST) fails" 1 "$RC"
expect_match "glrun ask says why" "glrun ask: .*400" "$ERR"
expect_match "glrun ask shows the server's words, redacted" "\*\*\*" "$ERR"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/ask_rest.txt"
expect_no_key "glrun ask (REST): no key on stdout or stderr" "$KEY" "$TMP/ask_rest.txt"

run "$GLRUN" ask --transport live "hello"
expect_eq "glrun ask --transport live fails" 1 "$RC"
expect_match "glrun ask (Live) names the close" "1008" "$ERR"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/ask_live.txt"
expect_no_key "glrun ask (Live): no key on stdout or stderr" "$KEY" "$TMP/ask_live.txt"

run "$GLRUN" --trace "$TMP/ask.trace" --record "$TMP/ask.rec" ask --transport auto "hello"
expect_eq "glrun ask --transport auto fails" 1 "$RC"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/ask_auto.txt"
expect_no_key "glrun ask (auto, traced): no key on stdout or stderr" "$KEY" "$TMP/ask_auto.txt"
expect_match "the trace has the Live close" '"kind":"ws_close"' "$(cat "$TMP/ask.trace")"
expect_match "the trace has the REST error" '"kind":"http_response".*"status":400' "$(cat "$TMP/ask.trace")"
expect_no_key "glrun ask: no key in the trace" "$KEY" "$TMP/ask.trace"
expect_eq "glrun ask: two cassettes (ws, http)" 2 "$(ls "$TMP/ask.rec" | wc -l | tr -d ' ')"
expect_no_key "glrun ask: no key in the cassettes" "$KEY" "$TMP/ask.rec"

printf 'first question\nsecond question\n' | timeout 60 "$GLRUN" chat >"$TMP/chat.out" 2>"$TMP/chat.err"
RC=$?
expect_eq "glrun chat (piped) exits 1: no turn answered" 1 "$RC"
expect_match "glrun chat prints the fallback and the failure" "1008|400" "$(cat "$TMP/chat.err")"
expect_no_key "glrun chat: no key on stdout or stderr" "$KEY" "$TMP/chat.out" "$TMP/chat.err"

# Every field of every error object, printed by a script.
cat >"$TMP/dump.lua" <<'L'
local function dump(label, v)
  local seen = {}
  local function walk(path, x, depth)
    if type(x) == "table" then
      if seen[x] or depth > 8 then return end
      seen[x] = true
      for k, y in pairs(x) do walk(path .. "." .. tostring(k), y, depth + 1) end
    else
      print(label .. path .. " = " .. tostring(x))
    end
  end
  walk("", v, 0)
  if type(v) == "table" then print(label .. " tostring = " .. tostring(v)) end
end
local key = os.getenv("GEMINI_API_KEY")
local base = os.getenv("HOSTILE_URL")
local rest = require "gemini.rest"
local _, e1 = rest.generate{ contents = { { role = "user", parts = { { text = "hi" } } } } }
dump("generate", e1)
print("MESSAGE", e1.error and e1.error.message, "BODY", e1.body)
for k, v in pairs(e1.headers or {}) do print("HEADER", k, v) end
print("DETAILS", require("glrun.json").encode(e1.error and e1.error.details or {}))
local ok, e2 = pcall(function() for _ in assert(gemini.stream("hi")) do end end)
dump("stream", e2)
local http = require "glrun.http"
local _, e3 = http.request{ url = base .. "/v1beta/models", headers = { ["x-goog-api-key"] = key } }
dump("http", e3)
local _, e4 = http.sse{ url = base .. "/v1beta/models/m:streamGenerateContent?alt=sse", body = "{}",
                        headers = { ["x-goog-api-key"] = key } }
dump("sse", e4)
local s, e5 = require("gemini.live").connect{ model = "gemini-2.5-flash-native-audio-latest" }
dump("live", e5)
print("REASON", e5 and e5.reason, e5 and e5.cause and e5.cause.reason)
local ws = require "glrun.ws"
local c, e6 = ws.connect{ url = base:gsub("^http", "ws") .. "/ws/x", headers = { ["x-goog-api-key"] = key } }
if c then
  local m, e7 = c:recv(10)
  dump("ws", e7)
  print("WSREASON", e7 and e7.reason)
else dump("wsconnect", e6) end
local chat = gemini.chat{ transport = "auto" }
for _, ev in ipairs{ "fallback", "retry", "reconnect", "fail", "circuit" } do
  chat:on(ev, function(x) print("EVENT", ev, x.reason); dump("event." .. ev, x.err) end)
end
local t, e8 = chat:send("hi")
dump("chat", e8)
print("DONE")
L
run "$GLRUN" --trace "$TMP/dump.trace" --record "$TMP/dump.rec" "$TMP/dump.lua"
expect_eq "the dump script runs to the end" 0 "$RC"
expect_match "the dump reached the end" "DONE" "$OUT"
expect_match "the REST error message is there, redacted" "MESSAGE	API key not valid: \*\*\*" "$OUT"
expect_match "the echoed header is there, redacted" "HEADER	x-echo-key	\*\*\*" "$OUT"
expect_match "the details are there, redacted" 'DETAILS.*"key":"\*\*\*"' "$OUT"
expect_match "the Live close reason is there, redacted" "REASON	key \*\*\* refused" "$OUT"
expect_match "the WebSocket close reason is there, redacted" "WSREASON	key \*\*\* refused" "$OUT"
expect_match "the chat's policy lines are there" "EVENT	fallback" "$OUT"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/dump.txt"
expect_no_key "error objects: no key in any field (stdout, stderr)" "$KEY" "$TMP/dump.txt"
expect_no_key "error objects: no key in the trace" "$KEY" "$TMP/dump.trace"
expect_no_key "error objects: no key in the cassettes" "$KEY" "$TMP/dump.rec"

# The key in an error that cuts a successful SSE stream: an error event,
# and a bare JSON error body after the first event.
cat >"$TMP/sse.lua" <<'L'
local ok, e = pcall(function() for _ in assert(gemini.stream("hi")) do end end)
print("STREAM", ok, e and e.kind, e and e.message)
print("ERRMSG", e and e.error and e.error.message)
print("DETAIL", e and e.error and require("glrun.json").encode(e.error.details or {}))
print("BODY", e and e.body)
local http = require "glrun.http"
local it = assert(http.sse{ url = os.getenv("HOSTILE_URL") .. "/v1beta/x:streamGenerateContent?alt=sse", body = "{}",
                            headers = { ["x-goog-api-key"] = os.getenv("GEMINI_API_KEY") } })
local ok2, e2 = pcall(function()
  for ev in it do print("EVENT", ev.data, ev.json and ev.json.error and ev.json.error.message) end
end)
print("SSE", ok2, e2 and e2.message)
L
for how in event raw; do
  start_hostile secret-sse-error $([ $how = raw ] && echo raw)
  run "$GLRUN" ask "hello"
  expect_eq "SSE error ($how): glrun ask fails" 1 "$RC"
  printf '%s\n%s' "$OUT" "$ERR" >"$TMP/sse_ask.$how"
  expect_no_key "SSE error ($how): glrun ask prints no key" "$KEY" "$TMP/sse_ask.$how"
  run "$GLRUN" --trace "$TMP/sse.$how.trace" --record "$TMP/sse.$how.rec" "$TMP/sse.lua"
  expect_match "SSE error ($how): the error is seen" "STREAM	false	http" "$OUT"
  expect_match "SSE error ($how): its message is there, redacted" "ERRMSG	internal error for key \*\*\*" "$OUT"
  expect_match "SSE error ($how): its details are there, redacted" 'DETAIL.*"detail":"key=\*\*\*"' "$OUT"
  printf '%s\n%s' "$OUT" "$ERR" >"$TMP/sse_dump.$how"
  expect_no_key "SSE error ($how): no key in any field" "$KEY" "$TMP/sse_dump.$how"
  expect_no_key "SSE error ($how): no key in the trace or the cassette" "$KEY" "$TMP/sse.$how.trace" "$TMP/sse.$how.rec"
done
finish
