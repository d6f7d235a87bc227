#!/usr/bin/env bash
# glrun.server with TLS (cert/key, a self-signed certificate made here):
# complete and streamed answers over https, a wss echo, a plain-HTTP
# client on the TLS port (refused, the server goes on), and a bad
# certificate path (nil, err kind "tls").
. "$SRC/tests/e2e/lib/sh.sh"
. "$SRC/tests/e2e/lib/server.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl missing"; exit 77; }
command -v openssl >/dev/null || { echo "SKIPPED: openssl missing"; exit 77; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 ||
  { echo "SKIPPED: openssl cannot make a certificate"; exit 77; }

cat >"$TMP/srv.lua" <<'EOF'
local server = require "glrun.server"
local dir = os.getenv("CERTDIR")
local bad, err = server.listen{ port = 0, cert = dir .. "/missing.pem", key = dir .. "/key.pem" }
print("BADCERT " .. tostring(bad) .. " " .. (err and err.kind or "none"))
local srv = assert(server.listen{ port = 0, cert = dir .. "/cert.pem", key = dir .. "/key.pem" })
print("URL " .. srv:url())
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
      while true do
        local m, kind = ws:recv()
        if not m then break end
        ws:send(m, kind)
      end
    elseif req.path == "/stream" then
      req:respond(200, {})
      for i = 1, 200 do assert(req:write(("line %03d %s\n"):format(i, ("z"):rep(1000)))) end
      req:finish()
    else
      req:respond(200, {}, "secure " .. req.path .. "\n")
    end
  end)
end
EOF

export CERTDIR=$TMP
start_srv "$TMP/srv.lua"
expect_match "bad certificate path: nil, kind tls" "^BADCERT nil tls" "$(cat "$TMP/srv.out")"
expect_match "srv:url() says https" "^URL https://127.0.0.1:$SRV_PORT" "$(cat "$TMP/srv.out")"
HBASE="https://127.0.0.1:$SRV_PORT"

OUT=$(curl -s -m 20 --cacert "$TMP/cert.pem" "$HBASE/hello")
expect_eq "https complete answer (certificate verified)" "secure /hello" "$OUT"
OUT=$(curl -s -m 30 --cacert "$TMP/cert.pem" "$HBASE/stream" | wc -l | tr -d ' ')
expect_eq "https streamed answer" "200" "$OUT"
# plain HTTP to the TLS port: no answer, and the server goes on
curl -s -m 5 "http://127.0.0.1:$SRV_PORT/plain" >/dev/null 2>&1
OUT=$(curl -s -m 20 --cacert "$TMP/cert.pem" "$HBASE/after")
expect_eq "server fine after a plain-HTTP client" "secure /after" "$OUT"

if command -v node >/dev/null && [ -d "$SRC/bench/node_modules/ws" ]; then
  OUT=$(cd "$TMP" && timeout 60 node -e "
    const WS = require('$SRC/bench/node_modules/ws');
    const w = new WS('wss://127.0.0.1:$SRV_PORT/ws', { ca: require('fs').readFileSync('cert.pem') });
    w.on('open', () => w.send('over tls'));
    w.on('message', (d) => { console.log('GOT ' + d); w.close(); });
    w.on('close', () => process.exit(0));
    w.on('error', (e) => { console.log('ERROR ' + e.message); process.exit(1); });
    setTimeout(() => process.exit(1), 30000);" 2>&1)
  expect_eq "wss echo" "GOT over tls" "$OUT"
fi

quit_srv "server" --cacert "$TMP/cert.pem" "$HBASE/quit"
finish
