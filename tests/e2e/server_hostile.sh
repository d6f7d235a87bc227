#!/usr/bin/env bash
# glrun.server against hostile clients: headers that never end (408 after
# header_timeout), a connection that sends nothing (closed), a request cut
# in its first line, random bytes, a body that never finishes, a WebSocket
# frame header cut short, a hundred connections at once, more connections
# than max_connections (in all, and from one address). The server must neither crash nor hang, and serve a
# normal request afterwards.
. "$SRC/tests/e2e/lib/sh.sh"
. "$SRC/tests/e2e/lib/server.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl missing"; exit 77; }

cat >"$TMP/srv.lua" <<'EOF'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0, header_timeout = 1, max_body = 65536 })
print("PORT " .. srv:port()); io.stdout:flush()
while true do
  local req = srv:accept()
  if not req then break end
  gl.spawn(function()
    if req.path == "/quit" then
      req:respond(200, {}, "bye\n")
      srv:close()
    elseif req.websocket then
      local ws = assert(req:upgrade())
      while ws:recv() do end
    elseif req.path == "/stats" then
      local s = srv:stats()
      req:respond(200, {}, ("open=%d queued=%d\n"):format(s.open, s.queued))
    else
      req:respond(200, {}, "fine\n")
    end
  end)
end
EOF

start_srv "$TMP/srv.lua"

# raw TCP: send $1 (read for at most $2 s, default 15) on a new connection, then read what comes back (bounded)
raw() {
  local out
  exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT" || { echo "CONNECT FAILED"; return; }
  printf '%b' "$1" >&3
  out=$(timeout "${2:-15}" cat <&3 | head -c 200 | tr -d '\r' | head -1)
  exec 3<&-
  echo "${out:-EOF}"
}

OUT=$(raw 'GET /slow HTTP/1.1\r\nHost: x\r\nX-Never: ')
expect_eq "headers that never end: 408" "HTTP/1.1 408 Request Timeout" "$OUT"
OUT=$(raw '')
expect_eq "a silent connection is closed" "EOF" "$OUT"
OUT=$(raw 'POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part')
expect_eq "a body that never finishes: 408" "HTTP/1.1 408 Request Timeout" "$OUT"
OUT=$(raw 'GE')
expect_eq "a cut request line: 408" "HTTP/1.1 408 Request Timeout" "$OUT"
OUT=$(raw 'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n')
expect_eq "a negative Content-Length: 400" "HTTP/1.1 400 Bad Request" "$OUT"
OUT=$(raw 'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab')
expect_eq "two Content-Lengths: 400" "HTTP/1.1 400 Bad Request" "$OUT"
OUT=$(raw 'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n')
expect_match "an absurd Content-Length: refused" "HTTP/1.1 (400|413)" "$OUT"
OUT=$(raw 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n\r\n')
expect_match "CONNECT: refused" "HTTP/1.1 4" "$OUT"
head -c 20000 /dev/urandom >"$TMP/noise"
OUT=$(exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT"; cat "$TMP/noise" >&3 2>/dev/null; timeout 15 cat <&3 2>/dev/null | head -c 100 | tr -d '\r' | head -1; exec 3<&-)
expect_match "random bytes: 400 or a close" "^(HTTP/1.1 400 Bad Request|)$" "$OUT"
# a WebSocket whose first frame header is cut: the server waits, then the
# client goes away; nothing hangs
KEY=dGhlIHNhbXBsZSBub25jZQ==
OUT=$(raw "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: $KEY\r\nSec-WebSocket-Version: 13\r\n\r\n\x81" 3)
expect_eq "a WebSocket upgrade answered before a cut frame" "HTTP/1.1 101 Switching Protocols" "$OUT"
# a WebSocket upgrade with no key is a plain request
OUT=$(raw "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
expect_eq "an upgrade without a key is a plain request" "HTTP/1.1 200 OK" "$OUT"

# a hundred connections at once, half of them sending half a request
pids=
for i in $(seq 1 100); do
  if [ $((i % 2)) = 0 ]; then
    (exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT" && printf 'GET /x HTTP/1.1\r\nHo' >&3 && sleep 0.5) 2>/dev/null &
  else
    curl -s -m 20 -o /dev/null "$BASE/x$i" &
  fi
  pids="$pids $!"
done
wait $pids 2>/dev/null

OUT=$(curl -s -m 20 "$BASE/after")
expect_eq "a normal request afterwards" "fine" "$OUT"
open=
for _ in $(seq 1 100); do
  open=$(curl -s -m 20 "$BASE/stats")
  [ "$open" = "open=1 queued=0" ] && break
  sleep 0.1
done
expect_eq "no connection left behind (only the one asking)" "open=1 queued=0" "$open"

quit_srv "server"

# served_again WHAT: a request is answered again (bounded retries) once the
# connections that filled the limit are closed
served_again() {
  local out=
  for _ in $(seq 1 100); do
    out=$(curl -s -m 20 "$BASE/later")
    [ "$out" = fine ] && break
    sleep 0.05
  done
  expect_eq "$1: served again once the others closed" "fine" "$out"
}

# max_connections: past it, new connections get 503 and are closed
cat >"$TMP/max.lua" <<'EOF'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0, max_connections = 2 })
print("PORT " .. srv:port()); io.stdout:flush()
while true do
  local req = srv:accept()
  if not req then break end
  if req.path == "/quit" then srv:close() end
  req:respond(200, {}, "fine\n")
end
EOF
start_srv "$TMP/max.lua"
exec 4<>"/dev/tcp/127.0.0.1/$SRV_PORT"
exec 5<>"/dev/tcp/127.0.0.1/$SRV_PORT"
OUT=$(curl -s -m 20 -w ' %{http_code}' "$BASE/third" | tr -d '\n')
expect_eq "max_connections: the third connection gets 503" "too many connections 503" "$OUT"
exec 4<&- 5<&-
served_again "max_connections"
quit_srv "max_connections server"

# max_connections_per_ip: one address holding its share gets 503 for more,
# another address (127.0.0.2, loopback too) is still served; a refused
# connection (it lingers until its client has read the 503) does not count,
# so with a limit of one the address is served again once its one is closed
sed 's/max_connections = 2/max_connections_per_ip = 1/' "$TMP/max.lua" >"$TMP/perip.lua"
start_srv "$TMP/perip.lua"
exec 4<>"/dev/tcp/127.0.0.1/$SRV_PORT"
OUT=$(curl -s -m 20 -w ' %{http_code}' "$BASE/second" | tr -d '\n')
expect_eq "max_connections_per_ip: a second from the same address gets 503" "too many connections 503" "$OUT"
OUT=$(curl -s -m 20 --interface 127.0.0.2 -w ' %{http_code}' "$BASE/other" | tr -d '\n')
expect_eq "max_connections_per_ip: another address is served" "fine 200" "$OUT"
exec 4<&-
served_again "max_connections_per_ip"
quit_srv "max_connections_per_ip server"
finish
