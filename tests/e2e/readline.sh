# glrun.readline: lines edited on a terminal (libedit, through tmux) while
# the event loop keeps running; plain lines from pipes and files; history
# saved and loaded; Ctrl-C with and without the interrupt trap.
. "$(dirname "$0")/lib/sh.sh"
cat > "$TMP/rl.lua" <<'LUA'
local rl = require "glrun.readline"
local trap = arg[1] == "trap"
local hist = os.getenv("HIST")
gl.trap_interrupts(trap)
if hist then assert(rl.load_history(hist)) end
local ticks, done = 0, false
gl.spawn(function() while not done do ticks = ticks + 1; pcall(gl.sleep, 0.02) end end)
while true do
  local ok, line = pcall(rl.read, "edit> ")
  if not ok then
    if not (trap and type(line) == "table" and line.kind == "interrupted") then done = true; error(line, 0) end
    print("[interrupted]")
  elseif line == nil then print("[eof] interactive=" .. tostring(rl.interactive())); break
  else
    print(("got <%s> ticks=%s"):format(line, ticks > 2 and "many" or tostring(ticks)))
    io.stdout:flush()
    ticks = 0
    rl.add_history(line)
  end
end
if hist then assert(rl.save_history(hist)) end
done = true
LUA

# plain lines: a pipe (CRLF, no final newline), a file, /dev/null
printf 'one\r\ntwo\nthree' | timeout 30 "$GLRUN" "$TMP/rl.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "pipe: lines in order, CR stripped, the last line without newline kept" \
  "0 got <one>|got <two>|got <three>|[eof] interactive=false" "$RC $(sed 's/ ticks=.*//' "$TMP/out" | tr '\n' '|' | sed 's/|$//')"
expect_eq "pipe: no prompt without a terminal" "" "$(grep -c 'edit>' "$TMP/out" | grep -v '^0$')"
printf 'a\nb\n' > "$TMP/file"
run "$GLRUN" "$TMP/rl.lua" 
( timeout 30 "$GLRUN" "$TMP/rl.lua" <"$TMP/file" >"$TMP/out" 2>&1 ); RC=$?
expect_eq "file: plain lines" "0 got <a>|got <b>|[eof] interactive=false" "$RC $(sed 's/ ticks=.*//' "$TMP/out" | tr '\n' '|' | sed 's/|$//')"
run "$GLRUN" "$TMP/rl.lua"
expect_eq "/dev/null: end of input at once" "0 [eof] interactive=false" "$RC $OUT"
( echo first
  for _ in $(seq 1 100); do grep -q "got <first>" "$TMP/out" 2>/dev/null && break; sleep 0.1; done
  sleep 0.3; echo second ) | timeout 30 "$GLRUN" "$TMP/rl.lua" >"$TMP/out" 2>&1
expect_eq "pipe: the loop runs while waiting for the next line" "got <second> ticks=many" "$(sed -n 2p "$TMP/out")"

# a terminal
. "$(dirname "$0")/lib/tmux.sh"
tmux_start "HIST='$TMP/hist' '$GLRUN' '$TMP/rl.lua' trap"
wait_for "tty: the prompt" "^edit> $"
typetext "slow"; sleep 0.5; typetext " typing"; keys Left Left Left Left Left Left BSpace; typetext "_"; keys End Enter
wait_for "tty: editing (cursor keys, backspace)" "^got <slow_typing> ticks=many$"
typetext "half a line"; keys C-c
wait_for "tty: Ctrl-C interrupts the read (trap on)" "^\[interrupted\]$"
wait_for "tty: then a fresh prompt" "^edit> $"
typetext "whole"; keys Enter
wait_for "tty: the interrupted text is dropped" "^got <whole> "
keys C-d
wait_for "tty: Ctrl-D is the end of input" "^\[eof\] interactive=true$"
wait_exit 10
expect_eq "tty: exit 0" 0 "$TRC"
expect_match "tty: history saved" "whole" "$(cat "$TMP/hist" 2>/dev/null)"
tm kill-server 2>/dev/null

tmux_start "HIST='$TMP/hist' '$GLRUN' '$TMP/rl.lua' trap"
wait_for "tty: a second run" "^edit> $"
keys Up Enter
wait_for "tty: history loaded (Up recalls the last run's line)" "^got <whole> "
keys C-d
wait_exit 10
tm kill-server 2>/dev/null

# without the trap, Ctrl-C ends the run and the terminal is restored
tmux_start "'$GLRUN' '$TMP/rl.lua'; echo \"status \$?\"; stty -a | grep -o -- '-\?icanon' > '$TMP/stty'"
wait_for "no trap: the prompt" "^edit> $"
typetext "abc"; keys C-c
wait_exit 10
expect_match "no trap: Ctrl-C ends the run (exit 130)" "^glrun: interrupted
status 130$" "$(screen)"
expect_eq "no trap: the terminal is back in canonical mode" "icanon" "$(cat "$TMP/stty" 2>/dev/null)"
finish
