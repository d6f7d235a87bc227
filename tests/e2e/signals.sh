# Stopping glrun from outside: SIGTERM and SIGHUP (timeout(1), systemd,
# docker stop, a closed terminal) stop the run as gracefully as Ctrl-C --
# buffered output flushed, the chat's --save-on-exit written -- and exit
# 143 and 129; Ctrl-C with thousands of tasks in flight says so in one line;
# glrun ask exits 130 on Ctrl-C. (cli.sh has the basic Ctrl-C checks.)
. "$(dirname "$0")/lib/sh.sh"
clean_env
cd "$TMP"

# start_bg WORD FILE CMD...: CMD in the background (stdout sig.out, stderr
# sig.err), waiting (bounded) until WORD is in FILE; sets pid. The signal
# goes to glrun itself, never through timeout(1), and no watchdog subshell
# is used (see cli.sh).
start_bg() {
  local word=$1 file=$2; shift 2
  : >"$TMP/sig.out"; : >"$TMP/sig.err"
  "$@" >"$TMP/sig.out" 2>"$TMP/sig.err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q -- "$word" "$file" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
wait_bounded() { # PID: its exit status; SIGKILLed if still running after ~30 s
  for _ in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$1" 2>/dev/null
  wait "$1"
}
# signal_test SIG WORD FILE CMD...: start CMD, send SIG once WORD is in FILE; sets RC
signal_test() {
  local sig=$1 word=$2 file=$3; shift 3
  if start_bg "$word" "$file" "$@"; then kill -"$sig" "$pid"; else bad "$word never came: $(cat "$TMP/sig.err")"; fi
  wait_bounded "$pid"; RC=$?
  OUT=$(cat "$TMP/sig.out"); ERR=$(cat "$TMP/sig.err")
}

WAITING='io.write("buffered output, never flushed"); io.stderr:write("waiting\n"); gl.sleep(30)'
signal_test TERM waiting "$TMP/sig.err" "$GLRUN" -e "$WAITING"
expect_eq "SIGTERM: exit 143" 143 "$RC"
expect_eq "SIGTERM: buffered output is written" "buffered output, never flushed" "$OUT"
expect_match "SIGTERM: says so" "glrun: terminated \(SIGTERM\)" "$ERR"

signal_test HUP waiting "$TMP/sig.err" "$GLRUN" -e "$WAITING"
expect_eq "SIGHUP: exit 129" 129 "$RC"
expect_eq "SIGHUP: buffered output is written" "buffered output, never flushed" "$OUT"
expect_match "SIGHUP: says so" "glrun: hang-up \(SIGHUP\)" "$ERR"

signal_test TERM busy "$TMP/sig.err" "$GLRUN" -e 'io.write("out"); io.stderr:write("busy\n"); local x = 0; while true do x = x + 1 end'
expect_eq "SIGTERM in a busy loop: exit 143, output written" "143 out" "$RC $OUT"

# the interrupt trap (a REPL) does not hold SIGTERM: the error says which
# signal, the script may clean up, and every later wait fails too
signal_test TERM waiting "$TMP/sig.err" "$GLRUN" -e 'gl.trap_interrupts(true); io.stderr:write("waiting\n")
  local ok, e = pcall(gl.sleep, 30); io.write("caught ", e.kind, " ", e.signal, "; ")
  local ok2 = pcall(gl.sleep, 30); io.write("next wait ", tostring(ok2))'
expect_eq "SIGTERM with the trap on: caught once, the run stops" "143 caught interrupted SIGTERM; next wait false" "$RC $OUT"

# glrun chat --save-on-exit: the conversation is saved on SIGTERM
mkfifo "$TMP/chat.in"
"$GLRUN" --mock chat --save-on-exit "$TMP/conv.json" <"$TMP/chat.in" >"$TMP/sig.out" 2>"$TMP/sig.err" &
pid=$!
exec 3>"$TMP/chat.in"
printf 'hello there\n' >&3
for _ in $(seq 1 600); do grep -q 'echo: hello there' "$TMP/sig.out" && break; sleep 0.05; done
kill -TERM "$pid"; wait_bounded "$pid"; RC=$?
exec 3>&-
expect_eq "chat: SIGTERM exits 143" 143 "$RC"
run "$GLRUN" -e 'local j = require "glrun.json"; local f = assert(io.open(arg[1])); local t = assert(j.decode(f:read("a")))
  print(#t.history, t.history[2].parts[1].text)' /dev/null "$TMP/conv.json"
expect_eq "chat: --save-on-exit wrote the conversation on SIGTERM" "$(printf '2\techo: hello there')" "$OUT"

# Ctrl-C with 2000 tasks in flight: one line, not a traceback per task
signal_test INT ready "$TMP/sig.err" "$GLRUN" -e 'for i = 1, 2000 do gl.spawn(gl.sleep, 30) end
  io.stderr:write("ready\n"); gl.sleep(30)'
expect_eq "2000 tasks: Ctrl-C exits 130" 130 "$RC"
expect_eq "2000 tasks: one line on stderr" "glrun: interrupted; 2000 tasks were cancelled" "$(printf '%s\n' "$ERR" | grep -v '^ready$')"

# failures nobody joined: the first three in full, then a count
run "$GLRUN" -e 'for i = 1, 20 do gl.spawn(function() gl.sleep(0.001 * i); error("boom " .. i) end) end; gl.sleep(0.3)'
expect_eq "20 unjoined failures: exit 1" 1 "$RC"
expect_eq "20 unjoined failures: three shown" 3 "$(printf '%s\n' "$ERR" | grep -c 'failed and nobody joined it')"
expect_match "20 unjoined failures: the first ones, in order" "task 2 failed and nobody joined it: \(command line\):1: boom 1" "$ERR"
expect_match "20 unjoined failures: the rest counted" "and 17 more tasks failed" "$ERR"
expect_eq "20 unjoined failures: a bounded report" 1 "$([ "$(printf '%s\n' "$ERR" | wc -l)" -le 20 ] && echo 1)"

# glrun ask: Ctrl-C is an interruption (130), not "no answer" (1)
signal_test INT 'talking to glmock' "$TMP/sig.err" "$GLRUN" --mock ask --model gemini-hang "a question"
expect_eq "ask: Ctrl-C exits 130" 130 "$RC"
expect_match "ask: says interrupted" "glrun: interrupted" "$ERR"
signal_test TERM 'talking to glmock' "$TMP/sig.err" "$GLRUN" --mock ask --model gemini-hang "a question"
expect_eq "ask: SIGTERM exits 143" 143 "$RC"
finish
