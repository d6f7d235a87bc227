# glrun --replay DIR --inject SPEC: one clean recorded session (a Live chat
# turn, a REST chat turn, a raw Live session) replayed with each fault kind
# gives the error a real failure gives and the policy's answer to it
# (retry, reconnect, fallback); a bad spec is refused in one line.
. "$(dirname "$0")/lib/sh.sh"
clean_env
cat > "$TMP/s.lua" <<'L'
local live = require "gemini.live"
local function on(chat, tag)
  for _, ev in ipairs{ "retry", "reconnect", "fallback", "fail", "restart" } do
    chat:on(ev, function(e) print(tag, ev:upper(), e.err and e.err.kind, e.err and (e.err.close_code or e.err.status),
                                  e.err and e.err.retry_after, e.delay) end)
  end
end
-- A: a Live chat turn (auto: Live first)
local a = assert(gemini.chat{ live_model = "gemini-live-text-test", quiet = true, ratelimit = false })
on(a, "A")
local ta, ea = a:send("first question")
print("A", ta, a.last_turn and a.last_turn.transport, ea and ea.kind, #a.history)
a:close()
-- B: a REST chat turn
local b = assert(gemini.chat{ transport = "rest", quiet = true, ratelimit = false })
on(b, "B")
local tb, eb = b:send("rest question")
print("B", tb, b.last_turn and b.last_turn.transport, eb and eb.kind, #b.history)
-- C: a raw Live session, its events
local s, es = live.connect{ model = "gemini-live-text-test" }
if not s then print("C", "connect", es.kind, es.close_code or es.status) else
  assert(s:send_text("third question"))
  local types = {}
  local ok, err = pcall(function()
    for ev in s:events{ timeout = 10 } do types[#types + 1] = ev.type end
  end)
  print("C", table.concat(types, ","), ok and "" or (err.kind .. " " .. tostring(err.close_code)))
  s:close()
end
L
start_glmock
run env GEMINI_API_KEY=inject-test-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --record "$TMP/cas" "$TMP/s.lua"
REC=$OUT
expect_eq "recording exits 0" 0 "$RC"
expect_match "A answered over Live when recorded" "^A	echo: first question	live" "$REC"
expect_match "B answered over REST when recorded" "B	echo: rest question	rest" "$REC"
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=
replay() { run "$GLRUN" --replay "$TMP/cas" "$@" "$TMP/s.lua"; }

replay
expect_eq "a plain replay gives the recorded run" "$REC" "$OUT"

# REST: the 1st HTTP request of the run is B's turn
replay --inject 'rest:request=1:status=429:retry=0.2s'
expect_match "429 with RetryInfo: B retries after the delay the server asked" "B	RETRY	http	429	0.2	0.2" "$OUT"
expect_match "429: then the recorded answer" "B	echo: rest question	rest	nil	2" "$OUT"
replay --inject 'rest:request=1:status=429:quota=day'
expect_match "429 per day: B falls back to the next REST model (not in the cassette)" "B	FALLBACK	http	429	47" "$OUT"
replay --inject 'rest:request=1:status=503'
expect_match "503: B retries" "B	RETRY	http	503" "$OUT"
expect_match "503: then answered" "B	echo: rest question	rest" "$OUT"
replay --inject 'rest:request=1:cut=60'
expect_match "a cut stream: the error of a real cut, retried" "B	RETRY	stream_cut" "$OUT"
expect_match "cut: then answered" "B	echo: rest question	rest" "$OUT"

# Live: session 1 is A's, session 2 is C's
replay --inject 'live:session=1:frame=3:close=1011'
expect_match "1011 mid-turn: the Live session reconnects, the answer restarts" "A	RESTART" "$OUT"
expect_match "1011: A answered over Live, history intact" "^A	echo: first question	live	nil	2" "$OUT"
replay --inject 'live:status=404'
expect_match "handshake 404: A falls back to REST" "A	FALLBACK	ws_handshake	404" "$OUT"
replay --inject 'live:session=2:frame=2:close=1008:reason=models/x is not found'
expect_match "1008 in a raw session: the close code and reason" "C	.*ws_closed 1008" "$OUT"
replay --inject 'live:session=2:frame=3:goaway=5s'
expect_match "goAway: a go_away event before the 2nd model message" "C	text,go_away,text" "$OUT"

# bad specs: one line, exit 2
for spec in 'rest:status=429' 'live:frame=2' 'soap:request=1:status=500' 'rest:request=1:status=200' \
            'rest:request=1:status=503:retry=2s' 'live:frame=1:close=1006' 'rest:request=1:colour=red'; do
  replay --inject "$spec"
  expect_eq "--inject '$spec' is a usage error" 2 "$RC"
  expect_match "--inject '$spec': one line naming it" "^glrun: --inject '$spec': " "$ERR"
done
run "$GLRUN" --inject 'rest:request=1:status=500' "$TMP/s.lua"
expect_match "--inject without --replay is refused" "--inject needs --replay" "$ERR"
finish
