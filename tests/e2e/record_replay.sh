# --record writes every HTTP exchange as a cassette (timing kept, secrets
# redacted); --replay runs the same script with no network from it, and
# fails clearly when asked for something the cassette does not hold.
. "$(dirname "$0")/lib/sh.sh"
clean_env
start_glmock
SECRET="AIzaRECORDsecret-0123456789"
cat > "$TMP/flow.lua" <<'L'
local gemini = require "gemini"
for p in assert(gemini.stream("record me please")) do io.write(p) end print()
local _, e = gemini.ask("x", { model = "gemini-ratelimited" })
print("E1", e.status, e.retry_after, e.error.status)
local ok, cut = pcall(function() for p in assert(gemini.stream("one two three four five six", { model = "gemini-cutstream" })) do io.write(p) end end)
print() print("E2", cut.kind)
local t0 = gl.now()
local n = 0
for p in assert(gemini.stream("slow one two three", { model = "gemini-slow" })) do n = n + 1 end
print("SLOW", n, gl.now() - t0 >= 0.5)
print((gemini.ask("last question")))
L
run env GEMINI_API_KEY="$SECRET" GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --record "$TMP/cas" "$TMP/flow.lua"
expect_eq "recording run exits 0" 0 "$RC"
RECORDED="$OUT"
expect_match "the recording run talked to glmock" "echo: record me please" "$OUT"
expect_eq "one cassette file per exchange" 5 "$(ls "$TMP/cas" | grep -c 'http.json$')"
expect_no_match "no secret in the cassette" "$SECRET" "$(cat "$TMP"/cas/*)"
expect_match "the key header is redacted" 'x-goog-api-key: \*\*\*' "$(cat "$TMP"/cas/0001-http.json)"
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=

# replay: glmock is gone, no key is set; the same output comes back
run "$GLRUN" --replay "$TMP/cas" "$TMP/flow.lua"
expect_eq "replay exits 0" 0 "$RC"
expect_eq "replay gives the same output" "$RECORDED" "$OUT"
expect_match "errors are replayed with their fields" "E1	429	1.5	RESOURCE_EXHAUSTED" "$OUT"
expect_match "a cut stream is replayed as a cut" "E2	stream_cut" "$OUT"
expect_match "timing is kept" "SLOW	[0-9]+	true" "$OUT"

# Live sessions (WebSocket frames both ways) and a chat that falls back
cat > "$TMP/live.lua" <<'L'
local gemini = require "gemini"
local live = require "gemini.live"
local s = assert(live.connect{ model = "gemini-live-text-test" })
s:send_text("hello live world")
for ev in s:events() do if ev.text then io.write(ev.text) end end print()
s:send_text("second turn")
for ev in s:events() do if ev.text then io.write(ev.text) end end print()
s:close()
local _, e = live.connect{ model = "gemini-2.5-flash-live" }
print("E", e.kind, e.close_code)
local chat = gemini.chat{ quiet = true }
local t1 = chat:send("chat over live")
print(t1, chat.last_turn and chat.last_turn.transport)
local c2 = gemini.chat{ quiet = true, live_model = "gemini-2.5-flash-live" }
local t2 = c2:send("falls back")
print(t2, c2.last_turn and c2.last_turn.transport)
L
start_glmock
run env GEMINI_API_KEY="$SECRET" GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --record "$TMP/lcas" "$TMP/live.lua"
LREC="$OUT"
expect_match "recorded Live turns" "echo: hello live world" "$OUT"
expect_match "recorded the fallback (to the catalog's replacement of the unknown Live model)" "echo: falls back	live" "$OUT"
expect_match "WebSocket sessions are cassettes too" "ws.json" "$(ls "$TMP/lcas")"
expect_no_match "no secret in the Live cassettes" "$SECRET" "$(cat "$TMP"/lcas/*)"
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=
run "$GLRUN" --replay "$TMP/lcas" "$TMP/live.lua"
expect_eq "Live replay exits 0" 0 "$RC"
expect_eq "Live replay gives the same output" "$LREC" "$OUT"
expect_match "the 1008 close is replayed" "E	ws_closed	1008" "$OUT"

# a request the cassette does not hold
printf 'print(require("gemini").ask("not recorded"))\n' > "$TMP/other.lua"
run "$GLRUN" --replay "$TMP/cas" "$TMP/other.lua"
expect_match "an unrecorded request is a clear replay error" "replay: the cassette .* holds no http exchange for POST /v1beta/models/gemini-3.8-flash:generateContent with this body" "$OUT"
run "$GLRUN" --replay "$TMP/nonexistent" "$TMP/other.lua"
expect_eq "--replay of a missing folder is a usage error" 2 "$RC"
mkdir -p "$TMP/empty"
run "$GLRUN" --replay "$TMP/empty" "$TMP/other.lua"
expect_eq "--replay of an empty folder fails" 1 "$RC"
expect_match "and says so" "no cassette files" "$ERR"
run "$GLRUN" --record "$TMP/x" --replay "$TMP/cas" "$TMP/other.lua"
expect_eq "--record with --replay is a usage error" 2 "$RC"
finish
