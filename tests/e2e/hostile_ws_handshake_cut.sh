# A WebSocket handshake that never completes: the server closes the socket
# in the middle of its 101 headers (ws-cut-handshake), or sends
# "HTTP/1.1 101" and then nothing (ws-slow-handshake). Each is one error of
# one line (ws_handshake, timeout) within the connect timeout: no crash, no
# hang, from glrun.ws and from gemini.live.
. "$(dirname "$0")/lib/sh.sh"

cat >"$TMP/hs.lua" <<'L'
local ws = require "glrun.ws"
local live = require "gemini.live"
local T = tonumber(arg[1])
local url = os.getenv("HOSTILE_URL"):gsub("^http", "ws") .. "/ws/x?key=" .. os.getenv("GEMINI_API_KEY")
local t0 = gl.now()
local c, err = ws.connect{ url = url, timeout = T }
local dt = gl.now() - t0
if c then print("CONNECTED") os.exit(0) end
print(("ws kind=%s status=%s lines=%d"):format(err.kind, tostring(err.status), select(2, err.message:gsub("\n", "")) + 1))
print("ws message=" .. err.message)
print(("ws within=%s"):format(tostring(dt < T + 5)))
t0 = gl.now()
local s, lerr = live.connect{ timeout = T }
dt = gl.now() - t0
if s then print("LIVE CONNECTED") os.exit(0) end
print(("live kind=%s lines=%d"):format(lerr.kind, select(2, lerr.message:gsub("\n", "")) + 1))
print("live message=" .. lerr.message)
print(("live within=%s"):format(tostring(dt < T + 5)))
L
no_key() { # WHAT TEXT
  if printf '%s' "$2" | grep -Fq -- "$HOSTILE_KEY"; then bad "$1: the key is printed"; else ok "$1"; fi
}

start_hostile ws-cut-handshake
run "$GLRUN" "$TMP/hs.lua" 10
expect_eq "cut: the script exits 0" 0 "$RC"
expect_match "cut: glrun.ws: one ws_handshake line, no status" "ws kind=ws_handshake status=nil lines=1" "$OUT"
expect_match "cut: glrun.ws says the response was cut" \
  "ws message=WebSocket handshake to ws://127\.0\.0\.1:[0-9]+/ws/x\?key=\*\*\* failed: no complete HTTP response" "$OUT"
expect_match "cut: glrun.ws fails within the connect timeout" "ws within=true" "$OUT"
expect_match "cut: gemini.live: one ws_handshake line" "live kind=ws_handshake lines=1" "$OUT"
expect_match "cut: gemini.live diagnosis" \
  "live message=Live handshake to .* failed: the server took the connection but sent no complete HTTP response" "$OUT"
expect_match "cut: gemini.live fails within the connect timeout" "live within=true" "$OUT"
no_key "cut: no key printed" "$OUT$ERR"
expect_no_match "cut: no crash" "Assertion|Segmentation|AddressSanitizer|LeakSanitizer|runtime error" "$ERR"
run "$GLRUN" ask --transport live "hello"
expect_eq "cut: glrun ask --transport live exits 1" 1 "$RC"
expect_eq "cut: glrun ask gives one error line" 1 "$(printf '%s\n' "$ERR" | grep -c '^glrun ask: ')"
expect_match "cut: glrun ask says the handshake failed" "glrun ask: .*handshake" "$ERR"

start_hostile ws-slow-handshake
run "$GLRUN" "$TMP/hs.lua" 2
expect_eq "slow: the script exits 0" 0 "$RC"
expect_match "slow: glrun.ws: one timeout line" "ws kind=timeout status=nil lines=1" "$OUT"
expect_match "slow: glrun.ws says the handshake timed out" \
  "ws message=WebSocket handshake to ws://.* timed out after 2 s" "$OUT"
expect_match "slow: glrun.ws gives up at the connect timeout" "ws within=true" "$OUT"
expect_match "slow: gemini.live: one timeout line" "live kind=timeout lines=1" "$OUT"
expect_match "slow: gemini.live gives up at the connect timeout" "live within=true" "$OUT"
no_key "slow: no key printed" "$OUT$ERR"
expect_no_match "slow: no crash" "Assertion|Segmentation|AddressSanitizer|LeakSanitizer|runtime error" "$ERR"
finish
