# The WebSocket client's TLS (verification on unless insecure=true) and
# proxies (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, NO_PROXY, curl's rules; per
# connection proxy=...), including a real CONNECT tunnel when python3 is
# there to play the proxy.
. "$(dirname "$0")/lib/sh.sh"
clean_env
start_tls_server
PX_PID=
trap 'kill $PX_PID 2>/dev/null; cleanup' EXIT

cat > "$TMP/tls.lua" <<'L'
local ws = require "glrun.ws"
local url = arg[1]
local c, e = ws.connect{ url = url, timeout = 10 }
print("VERIFY", c, e and e.kind, e and e.message)
-- with verification off the TLS handshake passes; s_server -www then
-- answers the upgrade with a web page (HTTP 200): a handshake failure
local c2, e2 = ws.connect{ url = url, timeout = 10, insecure = true }
print("INSECURE", c2, e2 and e2.kind, e2 and e2.status)
L
run "$GLRUN" "$TMP/tls.lua" "wss://127.0.0.1:$PORT/ws?key=SECRET-TLS-KEY"
expect_match "wss: a self-signed certificate is refused (kind tls)" "VERIFY	nil	tls" "$OUT"
expect_match "the TLS failure says verification is on" "certificate verification is on" "$OUT"
expect_no_match "the key stays out of the message" "SECRET-TLS-KEY" "$OUT"
expect_match "insecure=true gets past TLS to the upgrade (HTTP 200, not 101)" "INSECURE	nil	ws_handshake	200" "$OUT"

start_glmock
cat > "$TMP/proxy.lua" <<'L'
local ws = require "glrun.ws"
local url = os.getenv("GLMOCK_URL"):gsub("^http", "ws") .. "/glmock/echo"
local opts = { url = url, timeout = 10 }
if arg[1] == "explicit" then opts.proxy = arg[2] end
if arg[1] == "none" then opts.proxy = false end
local c, e = ws.connect(opts)
if c then
  c:send("through")
  print("RESULT", c:recv(5))
  c:close()
else
  print("RESULT", nil, e.kind, e.message)
end
L
run env -u NO_PROXY -u no_proxy HTTP_PROXY=http://127.0.0.1:1 "$GLRUN" "$TMP/proxy.lua"
expect_match "HTTP_PROXY is used for ws:// (a dead proxy: connect error)" "RESULT	nil	connect	.*via proxy 127.0.0.1:1" "$OUT"
run env -u NO_PROXY -u no_proxy HTTPS_PROXY=http://127.0.0.1:1 "$GLRUN" "$TMP/proxy.lua"
expect_match "HTTPS_PROXY is not used for ws://" "RESULT	through	text" "$OUT"
run env -u no_proxy HTTP_PROXY=http://127.0.0.1:1 NO_PROXY=localhost,127.0.0.1 "$GLRUN" "$TMP/proxy.lua"
expect_match "NO_PROXY bypasses it" "RESULT	through	text" "$OUT"
run env -u NO_PROXY -u no_proxy HTTP_PROXY=http://127.0.0.1:1 "$GLRUN" "$TMP/proxy.lua" none
expect_match "proxy=false bypasses it" "RESULT	through	text" "$OUT"
run env -u NO_PROXY -u no_proxy "$GLRUN" "$TMP/proxy.lua" explicit "http://user:PROXY-PASSWORD@127.0.0.1:1"
expect_match "an explicit proxy is used" "RESULT	nil	connect" "$OUT"
expect_no_match "proxy credentials stay out of messages" "PROXY-PASSWORD" "$OUT$ERR"

if command -v python3 >/dev/null; then
  cat > "$TMP/px.py" <<'P'
# a minimal HTTP CONNECT proxy that counts its tunnels
import socket, threading, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(16)
print(srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
def handle(c):
    req = b""
    while b"\r\n\r\n" not in req:
        d = c.recv(4096)
        if not d: return
        req += d
    line = req.split(b"\r\n")[0].decode()
    sys.stderr.write(line + "\n"); sys.stderr.flush()
    method, target, _ = line.split(" ")
    if method != "CONNECT":
        c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"); c.close(); return
    host, port = target.rsplit(":", 1)
    u = socket.create_connection((host, int(port)))
    c.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    pipe(u, c)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
P
  python3 "$TMP/px.py" >"$TMP/px.out" 2>"$TMP/px.err" &
  PX_PID=$!
  for _ in $(seq 1 100); do PXPORT=$(head -1 "$TMP/px.out" 2>/dev/null); [ -n "$PXPORT" ] && break; sleep 0.05; done
  run env -u NO_PROXY -u no_proxy HTTP_PROXY=http://127.0.0.1:$PXPORT "$GLRUN" "$TMP/proxy.lua"
  expect_match "a WebSocket through a CONNECT proxy works" "RESULT	through	text" "$OUT"
  expect_match "the proxy saw the CONNECT" "CONNECT 127.0.0.1:[0-9]+ HTTP/1.1" "$(cat "$TMP/px.err")"
else
  echo "# python3 not found: the CONNECT tunnel check is skipped"
fi
finish
