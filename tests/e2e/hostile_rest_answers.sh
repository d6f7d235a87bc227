# Answers that are not answers: a 204, a 200 SSE stream with no event, a
# stream that ends cleanly before any finishReason, a blocked prompt, a
# 302 with a JSON body. None of them may pass for an answer: gemini.ask,
# gemini.stream, rest.generate/rest.stream and `glrun ask` fail with one
# clear line (and glrun ask exits 1).
. "$(dirname "$0")/lib/sh.sh"

cat > "$TMP/probe.lua" <<'L'
local gemini = require "gemini"
local rest = require "gemini.rest"
local function line(e) return (tostring(type(e) == "table" and e.message or e):gsub("\n", "\\n")) end
local t, e = gemini.ask("hi")
print("ASK", t == nil, e and e.kind, e and e.status, e and line(e))
local r, re = rest.generate(gemini.request("hi"))
print("GENERATE", r == nil, re and re.kind)
local pieces = {}
local ok, se = pcall(function() for p in assert(gemini.stream("hi")) do pieces[#pieces + 1] = p end end)
print("STREAM", not ok, type(se) == "table" and se.kind, type(se) == "table" and line(se))
print("PARTIAL", type(se) == "table" and se.partial or "", table.concat(pieces))
local chunks = 0
local ok2, re2 = pcall(function()
  local it, err = rest.stream(gemini.request("hi"))
  if not it then error(err, 0) end
  for _ in it do chunks = chunks + 1 end
end)
print("RSTREAM", not ok2, type(re2) == "table" and re2.kind)
L

# the policy must not spend minutes retrying what the server keeps doing
cat > "$TMP/fast.lua" <<'L'
return { backoff_base = 0.05, backoff_cap = 0.1 }
L

# probe MODE [ARG]: runs the probe and glrun ask against the hostile mode
probe() {
  start_hostile "$@"
  run "$GLRUN" "$TMP/probe.lua"
  P_OUT="$OUT" P_RC="$RC"
  run "$GLRUN" --policy "$TMP/fast.lua" ask "hi"
  A_OUT="$OUT" A_RC="$RC"
  A_LAST=$(printf '%s\n' "$ERR" | tail -1)
  A_LINES=$(printf '%s\n' "$ERR" | wc -l)
  kill $BG_PIDS 2>/dev/null; BG_PIDS=
}

probe rest-204
expect_eq "204: the probe runs to its end" 0 "$P_RC"
expect_match "204: gemini.ask is an empty-answer error" "^ASK	true	protocol	204	.*an empty answer \(HTTP 204, no content\)" "$P_OUT"
expect_match "204: rest.generate fails too" "GENERATE	true	protocol" "$P_OUT"
expect_match "204: gemini.stream raises an empty-answer error" "STREAM	true	protocol	.*an empty answer \(HTTP 204" "$P_OUT"
expect_match "204: rest.stream raises" "RSTREAM	true	protocol" "$P_OUT"
expect_eq "204: glrun ask exits 1" 1 "$A_RC"
expect_eq "204: glrun ask prints nothing on stdout" "" "$A_OUT"
expect_match "204: glrun ask says why in its last line" "^glrun ask: .*empty answer" "$A_LAST"
expect_eq "204: not retried: glrun ask prints that one line only" 1 "$A_LINES"

probe rest-sse-empty
expect_match "empty 200: gemini.ask is an empty-answer error" "^ASK	true	protocol	200	.*an empty answer \(HTTP 200 with an empty body\)" "$P_OUT"
expect_match "empty 200 SSE: gemini.stream raises an empty-answer error" "STREAM	true	protocol	.*an empty answer \(HTTP 200, a stream with no event\)" "$P_OUT"
expect_match "empty 200 SSE: rest.stream raises" "RSTREAM	true	protocol" "$P_OUT"
expect_eq "empty 200: glrun ask exits 1" 1 "$A_RC"
expect_match "empty 200: glrun ask says why" "^glrun ask: .*empty answer" "$A_LAST"

probe rest-sse-no-finish
expect_match "no finishReason: gemini.ask is an incomplete-answer error" "^ASK	true	protocol	.*incomplete answer \(no finishReason" "$P_OUT"
expect_match "no finishReason: gemini.stream raises stream_cut" "STREAM	true	stream_cut	.*ended before the answer was complete \(no finishReason after 2 chunk" "$P_OUT"
expect_match "the cut carries the partial text it delivered" "PARTIAL	partial answer, still going	partial answer, still going" "$P_OUT"
expect_match "no finishReason: rest.stream raises stream_cut" "RSTREAM	true	stream_cut" "$P_OUT"
expect_eq "no finishReason: glrun ask exits 1" 1 "$A_RC"
expect_match "no finishReason: glrun ask says the stream was cut" "^glrun ask: .*(cut|finishReason)" "$A_LAST"

probe rest-sse-no-finish block
expect_match "blocked prompt: gemini.ask fails with the reason" "^ASK	true	blocked	.*the prompt was blocked \(SAFETY\)" "$P_OUT"
expect_match "blocked prompt: gemini.stream raises it" "STREAM	true	blocked	.*blocked \(SAFETY\)" "$P_OUT"
expect_eq "blocked prompt: glrun ask exits 1" 1 "$A_RC"
expect_match "blocked prompt: glrun ask says so" "^glrun ask: .*blocked \(SAFETY\)" "$A_LAST"
expect_eq "blocked prompt: not retried, one line" 1 "$A_LINES"

# a 302 with a JSON body: a redirect error, never followed (curl would
# reach glmock at the Location and get an answer, or another status)
start_glmock
probe redirect "$GLMOCK_URL/v1beta/models/gemini-2.5-flash:generateContent"
expect_match "302: gemini.ask is an http error with status 302" "^ASK	true	http	302	.*a proxy or captive portal redirected the request" "$P_OUT"
expect_match "302: gemini.stream raises the redirect" "STREAM	true	http	.*HTTP 302" "$P_OUT"
expect_no_match "302: the key in the Location is redacted" "$HOSTILE_KEY" "$P_OUT"
expect_eq "302: glrun ask exits 1" 1 "$A_RC"
expect_match "302: glrun ask names the redirect" "^glrun ask: .*redirected the request" "$A_LAST"
expect_no_match "302: glrun ask does not echo the key" "$HOSTILE_KEY" "$A_LAST"
expect_eq "302: not retried, one line" 1 "$A_LINES"

cat > "$TMP/redir.lua" <<'L'
local http = require "glrun.http"
local res, err = http.request{ url = os.getenv("HOSTILE_URL") .. "/anything?key=" .. os.getenv("GEMINI_API_KEY") }
print("REDIR", res == nil, err.kind, err.status, err.redirect)
L
start_hostile redirect "$GLMOCK_URL/v1beta/models"
rm -f "$HOSTILE_LOG"
run "$GLRUN" "$TMP/redir.lua"
expect_match "http.request: a 3xx is an error with the redacted Location in err.redirect" \
  "^REDIR	true	http	302	$GLMOCK_URL/v1beta/models\?next=.*&key=\*\*\*$" "$OUT"
expect_eq "http.request: the redirect was not followed (one request, no second one)" 1 "$(wc -l < "$HOSTILE_LOG")"
finish
