# The scheduler's runaway hook is armed only in a long slice (runtime/sched.c:
# with any count hook set, Lua traces every instruction): a short slice runs
# without it, a long one gets it (by the watchdog's signal) and loses it when
# the slice ends; it still reaches a busy loop inside a coroutine the task
# resumed (core._resume), Ctrl-C still interrupts such a loop, and a script's
# own debug.sethook is left alone.
. "$(dirname "$0")/lib/sh.sh"
clean_env
cd "$TMP"

# busy(s): spin for s seconds of wall time without yielding
BUSY='local function busy(s) local t = gl.now(); local x = 0; while gl.now() - t < s do x = x + 1 end; return x end'

run env GLRUN_WARN_RUN_SECONDS=0.5 "$GLRUN" -e "$BUSY"'
print("short", tostring(debug.gethook()))
local co = coroutine.create(function() print("in coroutine", tostring(debug.gethook())) end)
coroutine.resume(co)
-- spin until the watchdog has armed the hook and the warning is due (bounded)
local t0 = gl.now()
while (debug.gethook() == nil or gl.now() - t0 < 1.0) and gl.now() - t0 < 30 do end
print("long", tostring(debug.gethook()))
gl.sleep(0)
print("next slice", tostring(debug.gethook()))
print("spawned", tostring(gl.spawn(function() return debug.gethook() end):join()))'
expect_eq "hook: exit 0" 0 "$RC"
expect_match "hook: a short slice runs without it" "^short	nil" "$OUT"
expect_match "hook: a coroutine's short slice too" "in coroutine	nil" "$OUT"
expect_match "hook: armed in a long slice" "long	external hook" "$OUT"
expect_match "hook: disarmed when the slice ends" "next slice	nil" "$OUT"
expect_match "hook: a task spawned later starts without it" "spawned	nil" "$OUT"
expect_match "hook: the long slice was warned about" "task 1 has run [0-9.]+ s without yielding \(at \(command line\)" "$ERR"

# a runaway loop inside a coroutine (created before the slice got long) is stopped
run env GLRUN_MAX_RUN_SECONDS=1 GLRUN_WARN_RUN_SECONDS=0.3 "$GLRUN" -e '
local co = coroutine.wrap(function() local x = 0; while true do x = x + 1 end end)
local t = gl.spawn(co); print(t:join())'
expect_eq "coroutine runaway: the script goes on" 0 "$RC"
expect_match "coroutine runaway: join returns the error" "runaway: task 2 ran" "$OUT"

# two levels of coroutines, the loop in the inner one
run env GLRUN_MAX_RUN_SECONDS=1 GLRUN_WARN_RUN_SECONDS=0.3 "$GLRUN" -e '
local outer = coroutine.wrap(function()
  local inner = coroutine.wrap(function() local x = 0; while true do x = x + 1 end end)
  inner()
end)
print(pcall(outer))'
expect_match "nested runaway: interrupted" "false	.*runaway: task 1 ran" "$OUT"

# a script's own hook is not replaced nor removed
run env GLRUN_WARN_RUN_SECONDS=0.3 "$GLRUN" -e "$BUSY"'
local calls = 0
debug.sethook(function() calls = calls + 1 end, "", 1000)
busy(0.8)
gl.sleep(0)
print("own hook", calls > 0, debug.gethook() ~= nil)'
expect_match "own hook: still there after a long slice" "own hook	true	true" "$OUT"

# Ctrl-C in a busy loop inside a coroutine
start_bg() {
  : >"$TMP/sig.out"; : >"$TMP/sig.err"
  "$@" >"$TMP/sig.out" 2>"$TMP/sig.err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q busy "$TMP/sig.out" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
wait_bounded() {
  for _ in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$1" 2>/dev/null
  wait "$1"
}
if start_bg "$GLRUN" -e 'coroutine.wrap(function() print("busy"); io.stdout:flush(); local x = 0; while true do x = x + 1 end end)()'; then
  kill -INT "$pid"
else
  bad "busy never printed: $(cat "$TMP/sig.err")"
fi
wait_bounded "$pid"; RC=$?
expect_eq "SIGINT in a busy coroutine exits 130" 130 "$RC"

# with the trap on, the busy task gets the error once and the run goes on
if start_bg "$GLRUN" -e 'gl.trap_interrupts(true)
local ok, e = pcall(function() print("busy"); io.stdout:flush(); local x = 0; while true do x = x + 1 end end)
print("caught", type(e) == "table" and e.kind); print("still running")'; then
  kill -INT "$pid"
else
  bad "busy never printed: $(cat "$TMP/sig.err")"
fi
wait_bounded "$pid"; RC=$?
expect_eq "trapped Ctrl-C in a busy loop: exit 0" 0 "$RC"
expect_match "trapped Ctrl-C in a busy loop: caught" "caught	interrupted" "$(cat "$TMP/sig.out")"

finish
