# One-shot start-up: libwebsockets and libedit are not linked (no NEEDED
# entry) but opened on first use. A REST one-shot maps neither; a WebSocket
# connect maps libwebsockets and works; line editing on a terminal maps
# libedit and works; either library missing (GLRUN_LAZY_FAIL=soname) gives
# a clear error (WebSocket: nil, err kind "unsupported") or plain lines with
# the prompt (readline), never a crash.
. "$(dirname "$0")/lib/sh.sh"
command -v readelf >/dev/null || { echo "SKIP: readelf is not installed (Debian package binutils)"; exit 77; }
clean_env

needed=$(readelf -d "$GLRUN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
expect_match "readelf: glrun has NEEDED entries (the parse works)" "libcurl" "$needed"
expect_no_match "readelf: libwebsockets is not NEEDED" "libwebsockets" "$needed"
expect_no_match "readelf: libedit is not NEEDED" "libedit" "$needed"

start_glmock
export GEMINI_API_KEY=test-key GOOGLE_GEMINI_BASE_URL=$GLMOCK_URL
cat > "$TMP/flow.lua" <<'LUA'
local function mapped(lib)
  local f = assert(io.open("/proc/self/maps"))
  local s = f:read("a"); f:close()
  return s:find(lib, 1, true) ~= nil
end
local text = {}
for piece in assert(gemini.stream("lazy hello", { model = "gemini-2.5-flash" })) do text[#text + 1] = piece end
print("oneshot " .. table.concat(text):gsub("\n", " ") .. " lws=" .. tostring(mapped("libwebsockets"))
  .. " edit=" .. tostring(mapped("libedit")))
local ws = require "glrun.ws"
local url = os.getenv("GLMOCK_URL"):gsub("^http", "ws") .. "/glmock/echo"
for round = 1, 2 do
  local c, err = ws.connect{ url = url, timeout = 10 }
  if c then
    assert(c:send("ping " .. round))
    local m, kind = c:recv(10)
    print(("ws%d %s %s lws=%s"):format(round, tostring(m), tostring(kind), tostring(mapped("libwebsockets"))))
    c:close()
  else
    print(("ws%d nil kind=%s msg=%s"):format(round, tostring(err.kind), tostring(err.message)))
  end
end
LUA
run "$GLRUN" "$TMP/flow.lua"
expect_eq "one-shot then WebSocket: exit 0" 0 "$RC"
expect_match "a REST one-shot maps neither libwebsockets nor libedit" "^oneshot echo: lazy hello lws=false edit=false$" "$OUT"
expect_match "the first WebSocket connect opens libwebsockets and echoes" "^ws1 ping 1 text lws=true$" "$OUT"
expect_match "a second connect reuses it" "^ws2 ping 2 text lws=true$" "$OUT"

GLRUN_LAZY_FAIL=libwebsockets.so.17 run "$GLRUN" "$TMP/flow.lua"
expect_eq "libwebsockets missing: the script still ends normally" 0 "$RC"
expect_match "libwebsockets missing: REST still works" "^oneshot echo: lazy hello" "$OUT"
expect_match "libwebsockets missing: connect gives nil, err kind unsupported naming the library and package" \
  "^ws1 nil kind=unsupported msg=libwebsockets.so.17 cannot be loaded \(Debian package libwebsockets17\)" "$OUT"
expect_match "libwebsockets missing: the same answer the second time" "^ws2 nil kind=unsupported msg=libwebsockets.so.17" "$OUT"

# line editing on a terminal
cat > "$TMP/rl.lua" <<'LUA'
local rl = require "glrun.readline"
local function mapped(lib)
  local f = assert(io.open("/proc/self/maps"))
  local s = f:read("a"); f:close()
  return s:find(lib, 1, true) ~= nil
end
print("start edit=" .. tostring(mapped("libedit")))
local line = rl.read("lazy> ")
local inter, err = rl.interactive()
print(("got <%s> interactive=%s err=%s edit=%s"):format(tostring(line), tostring(inter),
  err and (err.kind .. ":" .. err.message) or "none", tostring(mapped("libedit"))))
LUA
. "$(dirname "$0")/lib/tmux.sh"
tmux_start "'$GLRUN' '$TMP/rl.lua' 2>'$TMP/rl.err'"
wait_for "tty: libedit not mapped before the first read" "^start edit=false$"
wait_for "tty: the prompt" "^lazy> $"
typetext "abd"; keys BSpace; typetext "c"; keys Enter
wait_for "tty: the line edited by libedit, opened on first use" "^got <abc> interactive=true err=none edit=true$"
wait_exit 10
expect_eq "tty: exit 0" 0 "$TRC"
tm kill-server 2>/dev/null

tmux_start "GLRUN_LAZY_FAIL=libedit.so.2 '$GLRUN' '$TMP/rl.lua' 2>'$TMP/rl.err'"
wait_for "tty, libedit missing: the prompt is still shown" "^lazy> $"
typetext "plain"; keys Enter
wait_for "tty, libedit missing: plain lines, interactive() is false plus the reason" \
  "^got <plain> interactive=false err=unsupported:no line editing: libedit.so.2 cannot be loaded"
wait_exit 10
expect_eq "tty, libedit missing: exit 0" 0 "$TRC"
expect_match "tty, libedit missing: a warning on stderr" "no line editing: libedit.so.2" "$(cat "$TMP/rl.err")"
finish
