# Helpers for the glrun.server tests (source after lib/sh.sh). A test
# writes a Lua server script that prints "PORT <n>" once it listens.

# start_srv SCRIPT [GLRUN OPTIONS...]: run glrun on SCRIPT in the
# background; sets SRV_PID and SRV_PORT (fails the test if it never listens)
start_srv() {
  local script=$1; shift
  "$GLRUN" "$@" "$script" >"$TMP/srv.out" 2>"$TMP/srv.err" &
  SRV_PID=$!
  BG_PIDS="$BG_PIDS $SRV_PID"
  SRV_PORT=
  for _ in $(seq 1 400); do
    SRV_PORT=$(awk '/^PORT /{print $2; exit}' "$TMP/srv.out" 2>/dev/null)
    [ -n "$SRV_PORT" ] && break
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$SRV_PORT" ] || { echo "not ok - the server did not start: $(cat "$TMP/srv.err")"; exit 1; }
  BASE="http://127.0.0.1:$SRV_PORT"
}

# wait_srv [SECONDS]: wait (bounded) for the server to exit; sets SRV_RC
# (124 when it had to be killed)
wait_srv() {
  local n=$(( ${1:-60} * 20 ))
  for _ in $(seq 1 "$n"); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$SRV_PID" 2>/dev/null; then
    kill -9 "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_RC=124
  else
    wait "$SRV_PID"; SRV_RC=$?
  fi
}

# quit_srv WHAT [CURL ARGS...]: ask the server to stop (GET $BASE/quit, or
# curl with the ARGS given), wait for it (60 s), and check its exit is clean
quit_srv() {
  local what=$1; shift
  [ $# -gt 0 ] || set -- "$BASE/quit"
  curl -s -m 20 "$@" >/dev/null
  wait_srv 60
  expect_clean_exit "$what"
}

# wait_for FILE REGEX [SECONDS]: poll until FILE matches (bounded); 0 if it did
wait_for() {
  local n=$(( ${3:-30} * 20 ))
  for _ in $(seq 1 "$n"); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# the sanitizer's report, if any (an ASan build): no report is a check
expect_clean_exit() {
  expect_eq "$1: server exit status" "${2:-0}" "$SRV_RC"
  expect_no_match "$1: no sanitizer report" "ERROR: (Address|Leak)Sanitizer|runtime error:" "$(cat "$TMP/srv.err")"
}

# node with the ws package from bench/node_modules, or skip
need_node_ws() {
  command -v node >/dev/null && [ -d "$SRC/bench/node_modules/ws" ] ||
    { echo "SKIPPED: node or bench/node_modules/ws missing (cd bench && npm ci)"; exit 77; }
}
