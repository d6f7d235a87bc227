# A Live handshake answered with a 3xx (a captive portal, a proxy) is a
# ws_handshake error with the status and the Location (redacted), never
# followed: `glrun ask --transport auto` says what happened in one line,
# answers over REST and exits 0, with no crash at exit (lws 4.1 followed
# the redirect and aborted in its teardown when the host did not resolve)
# and no connection to where the Location points (it hung there until the
# connect timeout when the host resolved).
. "$(dirname "$0")/lib/sh.sh"
KEY=$HOSTILE_KEY

no_key() { # WHAT TEXT
  if printf '%s' "$2" | grep -Fq -- "$KEY"; then bad "$1: the key is printed"; else ok "$1"; fi
}
no_crash() { # WHAT
  expect_no_match "$1" "Assertion|Aborted|Segmentation|AddressSanitizer|LeakSanitizer|runtime error" "$ERR"
}

# A TCP listener that notes every connection it gets: the redirect target.
SINK_LOG="$TMP/sink.log"
: >"$SINK_LOG"
node -e '
  const fs = require("fs"), log = process.argv[1];
  const s = require("net").createServer((c) => { fs.appendFileSync(log, "connection\n"); c.destroy(); });
  s.listen(0, "127.0.0.1", () => console.log("http://127.0.0.1:" + s.address().port));
  setTimeout(() => process.exit(0), 200000).unref();' "$SINK_LOG" >"$TMP/sink.out" 2>&1 &
BG_PIDS="$BG_PIDS $!"
SINK=
for _ in $(seq 1 200); do
  SINK=$(grep -o 'http://[0-9.:]*' "$TMP/sink.out" 2>/dev/null | head -1); [ -n "$SINK" ] && break; sleep 0.05
done
[ -n "$SINK" ] || { echo "not ok - the sink listener did not start"; exit 1; }

# 1. The Location names a host that does not resolve (the mode's default).
start_hostile ws-redirect-upgrade
run "$GLRUN" ask --transport auto "hello"
expect_eq "unresolvable: glrun ask --transport auto exits 0" 0 "$RC"
expect_eq "unresolvable: the REST answer on stdout" "hello from rest" "$OUT"
expect_match "unresolvable: diagnosed as a redirect, with its target" \
  "HTTP 302 - a proxy or captive portal redirected the WebSocket upgrade \(to portal\.invalid\)" "$ERR"
expect_match "unresolvable: then REST" "falling back to REST" "$ERR"
no_key "unresolvable: no key on stdout or stderr" "$OUT$ERR"
no_crash "unresolvable: no crash at exit"

printf 'hello\n' | timeout 60 "$GLRUN" chat >"$TMP/chat.out" 2>"$TMP/chat.err"
RC=$?
OUT=$(cat "$TMP/chat.out") ERR=$(cat "$TMP/chat.err")
expect_eq "unresolvable: glrun chat (piped) exits 0" 0 "$RC"
expect_match "unresolvable: glrun chat answers over REST" "hello from rest" "$OUT"
expect_match "unresolvable: glrun chat says why" "redirected the WebSocket upgrade" "$ERR"
no_key "unresolvable: glrun chat prints no key" "$OUT$ERR"
no_crash "unresolvable: glrun chat does not crash at exit"

# The error object of glrun.ws and of gemini.live, field by field.
cat >"$TMP/fields.lua" <<'L'
local ws = require "glrun.ws"
local live = require "gemini.live"
local key = os.getenv("GEMINI_API_KEY")
local url = os.getenv("HOSTILE_URL"):gsub("^http", "ws") .. "/ws/x?key=" .. key
local c, err = ws.connect{ url = url, headers = { ["x-goog-api-key"] = key }, timeout = 10 }
assert(not c, "the redirected upgrade connected")
print("kind=" .. err.kind, "status=" .. tostring(err.status), "location=" .. tostring(err.location))
print("message=" .. err.message)
local s, lerr = live.connect{ timeout = 10 }
assert(not s, "live.connect succeeded")
print("live.kind=" .. lerr.kind, "live.fatal=" .. tostring(lerr.fatal), "live.retryable=" .. tostring(lerr.retryable))
print("live.message=" .. lerr.message)
L
run "$GLRUN" "$TMP/fields.lua"
expect_eq "glrun.ws script exits 0" 0 "$RC"
expect_match "glrun.ws: kind ws_handshake, status 302" "kind=ws_handshake.status=302" "$OUT"
expect_match "glrun.ws: the Location is kept, redacted" "location=http://portal\.invalid/login\?next=[^ ]*key=\*\*\*" "$OUT"
expect_match "glrun.ws: the message names the redirect" "message=WebSocket handshake to .* failed: HTTP 302 redirect to http://portal\.invalid/login.* \(not followed\)" "$OUT"
expect_match "gemini.live: a ws_handshake error, not retried" "live.kind=ws_handshake.live.fatal=false.live.retryable=false" "$OUT"
expect_match "gemini.live: diagnosed" "live.message=Live handshake to .* failed: HTTP 302 - a proxy or captive portal redirected the WebSocket upgrade \(to portal\.invalid\)" "$OUT"
no_key "glrun.ws / gemini.live: no key in any field" "$OUT$ERR"
no_crash "glrun.ws / gemini.live: no crash at exit"

# 2. The Location points at a loopback port that answers: never followed.
start_hostile ws-redirect-upgrade "$SINK/portal"
t0=$(date +%s)
run "$GLRUN" ask --transport auto "hello"
t1=$(date +%s)
expect_eq "resolvable: glrun ask --transport auto exits 0" 0 "$RC"
expect_eq "resolvable: the REST answer on stdout" "hello from rest" "$OUT"
expect_match "resolvable: diagnosed, with the target host" \
  "redirected the WebSocket upgrade \(to ${SINK#http://}\)" "$ERR"
no_key "resolvable: no key on stdout or stderr" "$OUT$ERR"
no_crash "resolvable: no crash at exit"
expect_eq "resolvable: the redirect target got no connection" 0 "$(wc -l <"$SINK_LOG" | tr -d ' ')"
if [ $((t1 - t0)) -lt 20 ]; then ok "resolvable: no wait for the 30 s connect timeout ($((t1 - t0)) s)"
else bad "resolvable: took $((t1 - t0)) s (waited on the redirect target?)"; fi
finish
