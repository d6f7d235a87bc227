#!/usr/bin/env bash
# glrun.server over real sockets with curl as the client: a complete
# answer, a streamed answer read as it arrives (chunked; close-delimited for
# HTTP/1.0), pipelined requests, the request target as sent
# (doubled slash, percent escapes, raw query), keep-alive, HEAD, 100-continue,
# 413 for a big body (Content-Length and chunked), 431 for big headers, 400
# for garbage, 500 for a handler that never answered, and a trace with no
# secrets in it.
. "$SRC/tests/e2e/lib/sh.sh"
. "$SRC/tests/e2e/lib/server.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl missing"; exit 77; }

cat >"$TMP/srv.lua" <<'EOF'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0, max_body = 4096, max_header = 8192 })
print("PORT " .. srv:port()); io.stdout:flush()
local flag = os.getenv("FLAG")
local function exists(p) local f = io.open(p) if f then f:close() return true end end
while true do
  local req = srv:accept()
  if not req then break end
  gl.spawn(function()
    local p = req.path
    if p == "/quit" then
      req:respond(200, {}, "bye\n")
      srv:close()
    elseif p == "/stream" then
      req:respond(200, { ["Content-Type"] = "text/plain" })
      assert(req:write("first\n"))
      -- the test creates the flag once curl has shown "first"
      for _ = 1, 600 do if exists(flag) then break end gl.sleep(0.05) end
      assert(req:write("second\n"))
      req:finish()
    elseif p == "/noanswer" then
      req:finish()
    elseif p == "/stats" then
      local s = srv:stats()
      req:respond(200, {}, ("connections=%d accepted=%d rejected=%d\n"):format(s.connections, s.accepted, s.rejected))
    elseif p == "/notfound" then
      req:respond(404, { ["Content-Type"] = "text/plain" }, "not here\n")
    else
      req:respond(200, { ["Content-Type"] = "text/plain", ["X-Served-By"] = "glrun" },
        ("method=%s path=%s query=%s len=%d ua=%s\n"):format(req.method, req.path, req.query,
          #req:body(), tostring(req:header("user-agent") and "yes")))
    end
  end)
end
EOF

export FLAG="$TMP/flag"
start_srv "$TMP/srv.lua" --trace "$TMP/trace.jsonl"

OUT=$(curl -s -m 20 "$BASE/plain")
expect_eq "complete answer" "method=GET path=/plain query= len=0 ua=yes" "$OUT"
OUT=$(curl -s -m 20 --path-as-is "$BASE//ws/x%2Fy/../z?key=SECRETKEY123&a=b+c%20d")
expect_eq "target kept as sent (doubled slash, escapes, dot segment, raw query)" \
  "method=GET path=//ws/x%2Fy/../z query=key=SECRETKEY123&a=b+c%20d len=0 ua=yes" "$OUT"
OUT=$(curl -s -m 20 -D "$TMP/h" -H "Authorization: Bearer SECRETTOKEN456" -H "x-goog-api-key: SECRETKEY789" -d 'hello' "$BASE/post")
expect_eq "POST body" "method=POST path=/post query= len=5 ua=yes" "$OUT"
expect_match "handler's header sent" "X-Served-By: glrun" "$(cat "$TMP/h")"
expect_match "Content-Length on a complete answer" "Content-Length: 43" "$(cat "$TMP/h")"

OUT=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$BASE/notfound")
expect_eq "handler's 404" "404" "$OUT"
OUT=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$BASE/noanswer")
expect_eq "no answer from the handler: 500" "500" "$OUT"

# HEAD: headers with the length, no body
OUT=$(curl -s -m 20 -I "$BASE/head")
expect_match "HEAD: 200" "^HTTP/1.1 200" "$OUT"
expect_match "HEAD: the body's length" "Content-Length: 43" "$OUT"

# keep-alive: three URLs on one curl, one connection
before=$(curl -s -m 20 "$BASE/stats" | sed 's/.*connections=\([0-9]*\).*/\1/')
curl -s -m 20 "$BASE/a" "$BASE/b" "$BASE/c" >"$TMP/ka"
after=$(curl -s -m 20 "$BASE/stats" | sed 's/.*connections=\([0-9]*\).*/\1/')
expect_eq "keep-alive: three answers" "3" "$(grep -c '^method=GET' "$TMP/ka")"
expect_eq "keep-alive: one connection for three requests (plus the stats one)" "2" "$((after - before))"

# a body over max_body: 413 (Content-Length known; chunked found on the way)
head -c 5000 /dev/zero | tr '\0' x >"$TMP/big"
OUT=$(curl -s -m 20 -o /dev/null -w '%{http_code}' --data-binary @"$TMP/big" "$BASE/post")
expect_eq "big body (Content-Length): 413" "413" "$OUT"
OUT=$(curl -s -m 20 -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big" "$BASE/post")
expect_eq "big body (chunked): 413" "413" "$OUT"
# 100-continue: curl asks for bodies over 1 KiB; a small enough one passes
head -c 3000 /dev/zero | tr '\0' y >"$TMP/mid"
OUT=$(curl -s -m 20 -H 'Expect: 100-continue' --data-binary @"$TMP/mid" "$BASE/post")
expect_eq "Expect: 100-continue body" "method=POST path=/post query= len=3000 ua=yes" "$OUT"
OUT=$(curl -s -m 20 -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/mid" "$BASE/post")
expect_eq "chunked request body" "method=POST path=/post query= len=3000 ua=yes" "$OUT"

# headers over max_header: 431
big_h=$(head -c 9000 /dev/zero | tr '\0' h)
OUT=$(curl -s -m 20 -o /dev/null -w '%{http_code}' -H "X-Big: $big_h" "$BASE/x")
expect_eq "big headers: 431" "431" "$OUT"

# garbage: 400
exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT"
printf 'THIS IS NOT HTTP\r\n\r\n' >&3
OUT=$(timeout 10 cat <&3 | head -1 | tr -d '\r')
exec 3<&-
expect_eq "garbage: 400" "HTTP/1.1 400 Bad Request" "$OUT"

# a kept-alive HEAD, then garbage: the 400 still carries its body
exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT"
printf 'HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n\001garbage\r\n\r\n' >&3
OUT=$(timeout 10 cat <&3 | tr -d '\r' | tail -1)
exec 3<&-
expect_eq "400 after a kept-alive HEAD: with its body" "bad request" "$OUT"

# a streamed answer reaches the client as it is written
curl -s -N -m 60 -D "$TMP/sh" "$BASE/stream" >"$TMP/stream" &
CURL=$!
if wait_for "$TMP/stream" '^first$' 30; then ok "streamed: the first chunk arrived before the handler went on"
else bad "streamed: the first chunk never arrived on its own"; fi
touch "$FLAG"
wait $CURL
expect_eq "streamed: curl finished cleanly" "0" "$?"
expect_eq "streamed: whole body" "$(printf 'first\nsecond')" "$(cat "$TMP/stream")"
expect_match "streamed: chunked" "Transfer-Encoding: chunked" "$(cat "$TMP/sh")"

# HTTP/1.0: a streamed answer is close-delimited (no chunked encoding)
OUT=$(curl -s -m 30 --http1.0 -D "$TMP/h10" "$BASE/stream")
expect_eq "HTTP/1.0 streamed answer: whole body" "$(printf 'first\nsecond')" "$OUT"
expect_no_match "HTTP/1.0 streamed answer: not chunked" "Transfer-Encoding" "$(cat "$TMP/h10")"
expect_match "HTTP/1.0 streamed answer: Connection: close" "Connection: close" "$(cat "$TMP/h10")"

# two pipelined requests in one write: two answers, in order
exec 3<>"/dev/tcp/127.0.0.1/$SRV_PORT"
printf 'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
OUT=$(timeout 20 cat <&3 | grep -a '^method=' | tr '\n' ' ')
exec 3<&-
expect_eq "pipelined requests answered in order" \
  "method=GET path=/first query= len=0 ua=nil method=GET path=/second query= len=0 ua=nil " "$OUT"

OUT=$(curl -s -m 20 "$BASE/stats")
expect_match "stats count the C answers" "rejected=[4-9]" "$OUT"

quit_srv "server"
expect_no_match "trace: no API key or token" "SECRETKEY123|SECRETTOKEN456|SECRETKEY789" "$(cat "$TMP/trace.jsonl")"
expect_match "trace: server_request records" '"kind":"server_request"' "$(cat "$TMP/trace.jsonl")"
finish
