#!/usr/bin/env bash
# glrun.server's graceful stop (listen{stop_signals=true}): SIGTERM makes
# srv:accept() return nil, {kind="stopping", signal="SIGTERM"} without
# failing any other task's wait; new connections are refused; a streamed
# answer in flight completes; the script returns and glrun exits 0. The
# same with SIGINT. A second SIGTERM stops the run the usual way.
. "$SRC/tests/e2e/lib/sh.sh"
. "$SRC/tests/e2e/lib/server.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl missing"; exit 77; }

cat >"$TMP/srv.lua" <<'EOF'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0, stop_signals = true })
print("PORT " .. srv:port()); io.stdout:flush()
local function say(s) print(s); io.stdout:flush() end
local flag = os.getenv("FLAG")
local function exists(p) local f = io.open(p) if f then f:close() return true end end
local open = 0
-- a task that only sleeps: its waits must not fail on the signal
local sleeper = gl.spawn(function()
  for _ = 1, 100000 do
    local ok, err = pcall(gl.sleep, 0.05)
    if not ok then say("SLEEPER interrupted " .. tostring(err)); return end
    if srv:stats().closed and open == 0 then return end
  end
end)
while true do
  local req, err = srv:accept()
  if not req then
    say(("ACCEPT %s %s"):format(err.kind, tostring(err.signal)))
    break
  end
  open = open + 1
  gl.spawn(function()
    req:respond(200, { ["Content-Type"] = "text/plain" })
    req:write("tick 1\n")
    say("STREAMING")
    for _ = 1, 600 do if exists(flag) then break end gl.sleep(0.05) end
    for i = 2, 5 do assert(req:write(("tick %d\n"):format(i))) end
    req:finish()
    open = open - 1
    say("HANDLER done")
  end)
end
srv:close()
for _ = 1, 1200 do if open == 0 then break end gl.sleep(0.05) end   -- a deadline
sleeper:join()
say("EXIT open=" .. open)
EOF

for sig in TERM INT; do
  export FLAG="$TMP/flag-$sig"
  start_srv "$TMP/srv.lua"
  curl -s -N -m 60 -o "$TMP/stream-$sig" "$BASE/slow" &
  CURL=$!
  wait_for "$TMP/srv.out" '^STREAMING' 30
  kill -"$sig" "$SRV_PID"
  wait_for "$TMP/srv.out" '^ACCEPT' 30
  expect_eq "SIG$sig: accept returns stopping" "ACCEPT stopping SIG$sig" "$(grep '^ACCEPT' "$TMP/srv.out")"
  refused=no
  for _ in $(seq 1 100); do
    curl -s -m 5 -o /dev/null "$BASE/new"; rc=$?
    [ "$rc" = 7 ] && { refused=yes; break; }
    sleep 0.05
  done
  expect_eq "SIG$sig: new connections refused" "yes" "$refused"
  touch "$FLAG"
  wait "$CURL"; CRC=$?
  expect_eq "SIG$sig: the streamed answer in flight completed (curl 0)" "0" "$CRC"
  expect_eq "SIG$sig: its whole body" "5" "$(grep -c '^tick' "$TMP/stream-$sig")"
  wait_srv 60
  expect_clean_exit "SIG$sig"
  expect_no_match "SIG$sig: no other task was interrupted" "SLEEPER interrupted" "$(cat "$TMP/srv.out")"
  expect_match "SIG$sig: the script ran to its end" "^EXIT open=0" "$(cat "$TMP/srv.out")"
done

# a second SIGTERM while stopping: the usual stop (every wait fails, 143)
export FLAG="$TMP/flag-never"
start_srv "$TMP/srv.lua"
curl -s -N -m 60 -o /dev/null "$BASE/slow" &
CURL=$!
wait_for "$TMP/srv.out" '^STREAMING' 30
kill -TERM "$SRV_PID"
wait_for "$TMP/srv.out" '^ACCEPT' 30
kill -TERM "$SRV_PID"
wait_srv 60
wait "$CURL" 2>/dev/null
expect_clean_exit "second SIGTERM" 143
finish
