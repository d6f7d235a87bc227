# The glrun command line: options, arg table, exit codes, error reports.
. "$(dirname "$0")/lib/sh.sh"
clean_env
cd "$TMP"

run "$GLRUN" --help
expect_eq "--help exits 0" 0 "$RC"
expect_match "--help shows usage" "usage: glrun" "$OUT"
expect_match "--help documents --mock" "--mock" "$OUT"

run "$GLRUN" -v
expect_eq "-v exits 0" 0 "$RC"
expect_match "-v prints the version" "^glrun [0-9]+\.[0-9]+\.[0-9]+ \(Lua 5\.4" "$OUT"

run "$GLRUN" --bogus
expect_eq "unknown option exits 2" 2 "$RC"
expect_match "unknown option is named" "unknown option '--bogus'" "$ERR"

run "$GLRUN" --log-level loud -e 'print(1)'
expect_eq "bad --log-level exits 2" 2 "$RC"

run "$GLRUN" -e
expect_eq "-e without an argument exits 2" 2 "$RC"

run "$GLRUN" no-such-file.lua
expect_eq "missing script exits 1" 1 "$RC"
expect_match "missing script is named" "cannot open no-such-file.lua" "$ERR"

run "$GLRUN" -e 'x = 1 +' 
expect_eq "syntax error in -e exits 1" 1 "$RC"
expect_match "syntax error is reported" "command line" "$ERR"

cat > args.lua <<'L'
print(#arg, arg[0], arg[1], arg[2], arg[-1] ~= nil, select("#", ...), ...)
L
run "$GLRUN" args.lua a "b c"
expect_eq "script sees arg and ..." "$(printf '2\targs.lua\ta\tb c\ttrue\t2\ta\tb c')" "$OUT"

run "$GLRUN" -e 'X = 41' -e 'print(X + 1)'
expect_eq "-e chunks run in order" 42 "$OUT"

mkdir -p mods && printf 'return { v = "from-mod" }\n' > mods/mymod.lua
run env LUA_PATH="$TMP/mods/?.lua;;" "$GLRUN" -l mymod -e 'print(mymod.v)'
expect_eq "-l requires a module into a global" "from-mod" "$OUT"

printf 'print("from stdin", ...)\n' > stdin.lua
OUT=$(timeout 20 "$GLRUN" - x y < stdin.lua); RC=$?
expect_eq "- reads the script from stdin" "$(printf 'from stdin\tx\ty')" "$OUT"

cat > boom.lua <<'L'
local function inner() error("boom here") end
inner()
L
run "$GLRUN" boom.lua
expect_eq "script error exits 1" 1 "$RC"
expect_match "error starts with file:line" "^boom.lua:1: boom here" "$ERR"
expect_match "error has a traceback" "stack traceback" "$ERR"

# a script that overrides a built-in module from its own directory
mkdir -p over/gemini && printf 'return { ask = function() return "overridden" end }\n' > over/gemini/init.lua
printf 'print(require("gemini").ask("x"))\n' > over/main.lua
run "$GLRUN" over/main.lua
expect_eq "the script's directory overrides built-in modules" "overridden" "$OUT"

# no key and no --mock: one clear line, non-zero exit
run "$GLRUN" "$SRC/examples/hello.lua"
expect_eq "no key: exit 1" 1 "$RC"
expect_eq "no key: exactly one line on stderr" 1 "$(printf '%s\n' "$ERR" | wc -l)"
expect_match "no key: names GEMINI_API_KEY" "GEMINI_API_KEY" "$ERR"
expect_match "no key: names GOOGLE_API_KEY" "GOOGLE_API_KEY" "$ERR"
expect_match "no key: names Vertex AI" "Vertex AI" "$ERR"
expect_match "no key: suggests --mock" "--mock" "$ERR"

# Vertex asked for without a project: one clear line (tests/e2e/vertex_*.sh test the rest)
run env GOOGLE_GENAI_USE_VERTEXAI=true "$GLRUN" "$SRC/examples/hello.lua"
expect_eq "vertex: exit 1" 1 "$RC"
expect_match "vertex: says what is missing" "Vertex AI needs a project" "$ERR"

# --policy must be readable
run "$GLRUN" --policy /nonexistent/policy.lua -e 'print(1)'
expect_eq "--policy missing file exits 2" 2 "$RC"

# --trace to an unwritable place
run "$GLRUN" --trace /nonexistent/dir/trace.jsonl -e 'print(1)'
expect_eq "--trace unwritable exits 2" 2 "$RC"

# a runaway task is interrupted and reported
run env GLRUN_MAX_RUN_SECONDS=1 GLRUN_WARN_RUN_SECONDS=0.3 "$GLRUN" -e 'local t = gl.spawn(function() while true do end end); print(t:join())'
expect_eq "runaway: the script goes on after the interruption" 0 "$RC"
expect_match "runaway: join returns the error" "runaway: task 2 ran" "$OUT"
expect_match "runaway: a warning came first" "without yielding" "$ERR"

# a long C call (a backtracking string.find: 3-5 s here, warned at 0.7 s)
# runs no Lua hook: the watchdog thread warns while it runs, not after
run env GLRUN_WARN_RUN_SECONDS=0.2 "$GLRUN" -e "io.stderr:write('before\n'); string.find(('a'):rep(32), ('a*'):rep(8) .. 'b'); io.stderr:write('after\n')"
expect_eq "C call: exit 0" 0 "$RC"
expect_eq "C call: warned while it ran" "before|inside a C function|after|" \
  "$(printf '%s\n' "$ERR" | grep -o 'before\|inside a C function\|after' | tr '\n' '|')"
expect_match "C call: the warning names the task and the time" "task 1 has run [0-9.]+ s without yielding" "$ERR"

# a task cannot wait for itself
run "$GLRUN" -e 'local t; t = gl.spawn(function() gl.current():join() end); print(select(2, t:join()))'
expect_eq "a task joining itself fails, the script goes on" 0 "$RC"
expect_match "joining itself says so" "cannot join itself" "$OUT"

# transport call outside a task
run "$GLRUN" -e 'table.sort({3,2,1}, function(a, b) gl.sleep(0) return a < b end)'
expect_eq "sleep in a non-yieldable place is an error" 1 "$RC"
expect_match "and says it needs a task" "inside a task" "$ERR"

# Signals. glrun runs in the background and gets the signal from kill(1)
# itself, never through timeout(1) (it forwards a signal to its whole
# process group, so glrun would get two). No watchdog subshell either: a
# subshell killed before it has reset its traps runs this shell's EXIT trap,
# which removes $TMP under the running test (the old flake: "sig.out: No
# such file or directory", "wait_for: No record of process").
# start_bg WORD CMD...: runs CMD in the background (stdout sig.out, stderr
# sig.err) and waits, bounded, until WORD is on its stdout; sets pid.
start_bg() {
  local word=$1; shift
  : >"$TMP/sig.out"; : >"$TMP/sig.err"
  "$@" >"$TMP/sig.out" 2>"$TMP/sig.err" &
  pid=$!
  for _ in $(seq 1 600); do grep -q "$word" "$TMP/sig.out" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
# wait_bounded PID: its exit status; SIGKILLed if still running after ~30 s
wait_bounded() {
  for _ in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$1" 2>/dev/null
  wait "$1"
}
# signal_test SIG WORD CMD...: start CMD, send SIG once WORD is out; sets RC
signal_test() {
  local sig=$1 word=$2; shift 2
  if start_bg "$word" "$@"; then kill -"$sig" "$pid"; else bad "$word never printed: $(cat "$TMP/sig.err")"; fi
  wait_bounded "$pid"; RC=$?
}

# the helpers' EXIT trap runs in the test's own shell only: a background
# subshell killed at birth must not take $TMP with it
{ for _ in $(seq 1 20); do ( sleep 5 ) & k=$!; kill "$k"; wait "$k"; [ -d "$TMP" ] || break; done; } 2>/dev/null
expect_eq "a subshell killed at birth leaves \$TMP alone" yes "$([ -d "$TMP" ] && echo yes || echo no)"
[ -d "$TMP" ] || { finish; }

# SIGINT stops gracefully: exit 130 and a message
signal_test INT started "$GLRUN" -e 'print("started"); io.stdout:flush(); gl.sleep(30)'
expect_eq "SIGINT while waiting exits 130" 130 "$RC"
expect_match "SIGINT says interrupted" "interrupted" "$(cat "$TMP/sig.err")"

signal_test INT busy "$GLRUN" -e 'print("busy"); io.stdout:flush(); local x = 0; while true do x = x + 1 end'
expect_eq "SIGINT in a busy loop exits 130" 130 "$RC"

# with gl.trap_interrupts(true), Ctrl-C raises once in the waiting task
# and the run goes on (how a REPL cancels one reply)
signal_test INT ready "$GLRUN" -e 'gl.trap_interrupts(true); print("ready"); io.stdout:flush(); local ok, e = pcall(gl.sleep, 30); print("caught", e.kind); gl.sleep(0.05); print("still running")'
expect_eq "trapped Ctrl-C: the run goes on and exits 0" 0 "$RC"
expect_match "trapped Ctrl-C: caught as an error" "caught	interrupted" "$(cat "$TMP/sig.out" "$TMP/sig.err")"
expect_match "trapped Ctrl-C: then still running" "still running" "$(cat "$TMP/sig.out")"

finish
