# start_redis: a throwaway redis-server for one test (loopback, a free port,
# no persistence), killed by the test's cleanup. Sets REDIS_PORT,
# REDIS_PID and GLRUN_REDIS_URL. Skips the test, visibly, without
# redis-server (Debian package redis-server; .ci/deps.sh test installs it).
# Source after lib/sh.sh.
start_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
    || { echo "# SKIP: redis-server not installed (apt-get install redis-server)"; exit 77; }
  local port="${1:-}" tries
  for tries in $(seq 1 20); do
    [ -n "$port" ] || port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      >"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    BG_PIDS="$BG_PIDS $REDIS_PID"
    for _ in $(seq 1 100); do
      [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.05
    done
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
      REDIS_PORT=$port
      export GLRUN_REDIS_URL="redis://127.0.0.1:$port/0"
      return 0
    fi
    kill "$REDIS_PID" 2>/dev/null
    [ -n "${1:-}" ] && break   # a fixed port (a restart) is not moved
    port=
  done
  echo "not ok - redis-server did not start"; cat "$TMP/redis.log"; exit 1
}

# stop_redis: kill the server (SIGKILL: its state is lost) and wait for it
stop_redis() {
  kill -9 "$REDIS_PID" 2>/dev/null
  wait "$REDIS_PID" 2>/dev/null
}
