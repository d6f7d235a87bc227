# A base URL with user:password@ (REST sends them as Basic auth): the Live
# WebSocket upgrade does not carry them, so live.connect returns nil, err
# (kind ws_handshake, the password nowhere) instead of raising, and a chat
# falls back to REST. A base URL glrun.ws cannot parse is a config error
# from live.connect, not a raise. glrun.ws itself raises (misuse) on a URL
# with credentials, without printing them.
. "$(dirname "$0")/lib/sh.sh"
PASS="s3cret-Pa55word"
start_hostile ws-redirect-upgrade
export GOOGLE_GEMINI_BASE_URL="${HOSTILE_URL/http:\/\//http://alice:$PASS@}"

no_pass() { # WHAT TEXT
  if printf '%s' "$2" | grep -Fq -- "$PASS"; then bad "$1: the password is printed"; else ok "$1"; fi
}

cat >"$TMP/live.lua" <<'L'
local live = require "gemini.live"
local ok, s, err = pcall(live.connect, { timeout = 10 })
print("raised=" .. tostring(not ok))
if not ok then print("error=" .. tostring(s)) os.exit(0) end
print("session=" .. tostring(s))
print(("kind=%s fatal=%s retryable=%s"):format(err.kind, tostring(err.fatal), tostring(err.retryable)))
print("message=" .. err.message)
print("url=" .. tostring(err.url))
print("tostring=" .. tostring(err))
local ws = require "glrun.ws"
local wok, werr = pcall(ws.connect, { url = "ws://alice:" .. os.getenv("PASS") .. "@127.0.0.1:1/x" })
print("ws raised=" .. tostring(not wok) .. " " .. tostring(werr))
L
PASS="$PASS" run "$GLRUN" "$TMP/live.lua"
expect_eq "the script exits 0" 0 "$RC"
expect_match "live.connect does not raise" "raised=false" "$OUT"
expect_match "live.connect returns nil, err" "session=nil" "$OUT"
expect_match "a ws_handshake error, not retried" "kind=ws_handshake fatal=true retryable=false" "$OUT"
expect_match "the message says why" "message=Live handshake to ws://\*\*\*@127\.0\.0\.1:[0-9]+/ws/.* not attempted: the base URL carries credentials" "$OUT"
expect_match "err.url hides the credentials" "url=ws://\*\*\*@127\.0\.0\.1" "$OUT"
expect_match "glrun.ws raises on credentials in its URL" "ws raised=true .*credentials in a ws URL are not supported" "$OUT"
no_pass "live.connect / glrun.ws: the password is printed nowhere" "$OUT$ERR"
expect_eq "no upgrade was sent" 0 "$(cat "$HOSTILE_LOG" 2>/dev/null | grep -c '"path":"/ws/')"

run "$GLRUN" ask --transport auto "hello"
expect_eq "glrun ask --transport auto exits 0" 0 "$RC"
expect_eq "glrun ask answers over REST" "hello from rest" "$OUT"
expect_match "glrun ask says why Live was skipped" "base URL carries credentials.*falling back to REST" "$ERR"
no_pass "glrun ask: the password is printed nowhere" "$OUT$ERR"

printf 'hello\n' | timeout 60 "$GLRUN" chat >"$TMP/chat.out" 2>"$TMP/chat.err"
RC=$?
expect_eq "glrun chat (piped) exits 0" 0 "$RC"
expect_match "glrun chat answers over REST" "hello from rest" "$(cat "$TMP/chat.out")"
no_pass "glrun chat: the password is printed nowhere" "$(cat "$TMP/chat.out" "$TMP/chat.err")"

# a base URL that is no URL glrun.ws takes (port out of range): config error
export GOOGLE_GEMINI_BASE_URL="http://127.0.0.1:99999"
cat >"$TMP/badport.lua" <<'L'
local live = require "gemini.live"
local ok, s, err = pcall(live.connect, { timeout = 10 })
print("raised=" .. tostring(not ok), "session=" .. tostring(s), "kind=" .. tostring(err and err.kind))
print("message=" .. tostring(err and err.message or s))
L
run "$GLRUN" "$TMP/badport.lua"
expect_eq "bad port: the script exits 0" 0 "$RC"
expect_match "bad port: live.connect returns a config error" "raised=false.session=nil.kind=config" "$OUT"
expect_match "bad port: the message names the URL problem" "message=Live endpoint ws://127\.0\.0\.1:99999/ws/.*: bad port in URL" "$OUT"
finish
