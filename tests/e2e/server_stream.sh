#!/usr/bin/env bash
# glrun.server's streamed answers under pressure: a slow reader (curl
# --limit-rate) takes 50 MB while the handler's queued output stays under
# the bound (write() yields instead of buffering); a client that goes away
# mid-answer is seen by the handler (write -> nil, closed; req:closed());
# one that goes away before the answer wakes req:wait_closed(). Then
# SIGTERM (no stop_signals) with a stream and a WebSocket open: the run
# stops, nothing leaks.
. "$SRC/tests/e2e/lib/sh.sh"
. "$SRC/tests/e2e/lib/server.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl missing"; exit 77; }

cat >"$TMP/srv.lua" <<'EOF'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0 })
print("PORT " .. srv:port()); io.stdout:flush()
local function say(s) print(s); io.stdout:flush() end
while true do
  local req = srv:accept()
  if not req then break end
  gl.spawn(function()
    local p = req.path
    if p == "/quit" then
      req:respond(200, {}, "bye\n")
      srv:close()
    elseif p == "/big" then
      local chunk = ("0123456789abcdef"):rep(1024)      -- 16 KiB
      req:respond(200, { ["Content-Type"] = "application/octet-stream" })
      local maxq = 0
      for _ = 1, 50 * 64 do                             -- 50 MiB
        assert(req:write(chunk))
        local q = req:stats().out_queued
        if q > maxq then maxq = q end
      end
      req:finish()
      say(("BIG done maxq=%d max=%d srvmax=%d"):format(maxq, req:stats().out_queued_max, srv:stats().out_queued_max))
    elseif p == "/forever" then
      req:respond(200, { ["Content-Type"] = "text/plain" })
      for i = 1, 1000000 do
        local ok, err = req:write(("tick %d\n"):format(i))
        if not ok then
          say(("FOREVER stopped kind=%s closed=%s"):format(err.kind, tostring(req:closed())))
          return
        end
        gl.sleep(0.01)
      end
    elseif p == "/wait" then
      -- woken by the server when the client goes (no polling); bounded
      local gone, err = req:wait_closed(60)
      if gone then say(("WAIT saw the client go closed=%s"):format(tostring(req:closed()))); return end
      say("WAIT not woken: " .. tostring(err))
      req:respond(200, {}, "late\n")
    elseif p == "/hold" then
      req:respond(200, {})
      assert(req:write("held\n"))
      -- and a WebSocket to ourselves (glrun.ws client), held open too
      gl.spawn(function()
        local c = assert(require("glrun.ws").connect{ url = srv:url():gsub("^http", "ws") .. "/wshold" })
        assert(c:send("hi"))
        c:recv()
      end)
      gl.sleep(600)
    elseif p == "/wshold" then
      local ws = assert(req:upgrade())
      assert(ws:recv() == "hi")
      say("HOLD open")
      ws:recv()
    end
  end)
end
EOF

start_srv "$TMP/srv.lua"

# 50 MiB to a reader limited to 20 MB/s (a few seconds)
curl -s -m 240 --limit-rate 20M -o "$TMP/big" "$BASE/big"
expect_eq "slow reader: all 50 MiB arrived" "52428800" "$(wc -c <"$TMP/big" | tr -d ' ')"
if wait_for "$TMP/srv.out" '^BIG done' 60; then
  line=$(grep '^BIG done' "$TMP/srv.out")
  maxq=$(echo "$line" | sed 's/.* max=\([0-9]*\).*/\1/')
  # the bound is 64 KiB; one 16 KiB chunk (and its framing) may pass it
  if [ "$maxq" -gt 0 ] && [ "$maxq" -le 100000 ]; then ok "slow reader: queued output stayed bounded ($maxq bytes)"
  else bad "slow reader: queued output reached $maxq bytes ($line)"; fi
else
  bad "slow reader: the handler never finished"
fi

# the client goes away mid-answer
curl -s -N -m 60 -o "$TMP/fe" "$BASE/forever" &
CURL=$!
wait_for "$TMP/fe" 'tick 3' 30
kill "$CURL" 2>/dev/null; wait "$CURL" 2>/dev/null
if wait_for "$TMP/srv.out" '^FOREVER stopped' 30; then
  expect_eq "disconnect mid-answer: write says closed, req:closed() true" \
    "FOREVER stopped kind=closed closed=true" "$(grep '^FOREVER' "$TMP/srv.out")"
else
  bad "disconnect mid-answer: the handler never noticed"
fi

# the client goes away before any answer
curl -s -m 1 "$BASE/wait" >/dev/null
if wait_for "$TMP/srv.out" '^WAIT ' 90; then
  expect_eq "disconnect before the answer: req:wait_closed() true, req:closed() true" \
    "WAIT saw the client go closed=true" "$(grep '^WAIT ' "$TMP/srv.out")"
else bad "disconnect before the answer: never noticed"; fi

quit_srv "server"

# SIGTERM (no stop_signals) while a stream is open: every wait fails, the
# run stops (128+15), open requests are closed with the Lua state
start_srv "$TMP/srv.lua"
curl -s -N -m 60 -o "$TMP/hold" "$BASE/hold" &
CURL=$!
wait_for "$TMP/srv.out" '^HOLD open' 30
kill -TERM "$SRV_PID"
wait_srv 60
wait "$CURL"; CRC=$?
expect_clean_exit "SIGTERM with a stream and a WebSocket open" 143
expect_eq "SIGTERM: the client saw the stream cut (curl 18)" "18" "$CRC"
finish
