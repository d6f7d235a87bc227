#!/usr/bin/env bash
# ./test.sh — installs what is missing, builds glrun, runs every test: the
# normal build, then the same suite under AddressSanitizer +
# UndefinedBehaviorSanitizer, then the fuzz targets for a bounded time.
# Ends with one line "N passed, M failed".
#   ./test.sh quick     the normal build only
set -uo pipefail
root=$(cd "$(dirname "$0")" && pwd)
"$root/.ci/deps.sh" test || exit 1
# Google's official JS SDK, which the suite runs against glmock (fidelity
# checks): installed from bench/package-lock.json once; without npm or the
# registry those tests say they are skipped.
# (playwright-core drives Chromium in the chat page's browser test)
if { [ ! -d "$root/bench/node_modules/@google/genai" ] || [ ! -d "$root/bench/node_modules/playwright-core" ]; } &&
   command -v npm >/dev/null; then
  (cd "$root/bench" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
    echo "test.sh: npm ci in bench/ failed; the SDK fidelity tests will be skipped" >&2
fi
jobs=$(nproc)
passed=0; failed=0; skipped=0
suite() { # NAME BUILD_DIR CMAKE_ARGS...
  local name=$1 dir=$2; shift 2
  echo "=== $name"
  if ! cmake -S "$root" -B "$dir" "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; failed=$((failed+1)); return
  fi
  if ! cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
    tail -50 "$dir.build.log"; failed=$((failed+1)); return
  fi
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 600 ${CTEST_FILTER:+-R "$CTEST_FILTER"}) 2>&1 | tee "$dir.ctest.log"
  # One result line per test: "N/M Test #K: NAME ....   Passed 0.1 sec", or
  # "***Skipped", "***Failed", "***Timeout", "***Exception: ...", "***Not Run".
  # A skip is a skip, not a failure; anything that is neither is a failure.
  local p f s
  read -r p s f < <(awk '/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
      if ($0 ~ /Skipped/) s++; else if ($0 ~ / Passed +[0-9.]+ sec/) p++; else f++ }
    END { print p+0, s+0, f+0 }' "$dir.ctest.log")
  if [ $((p+s+f)) -eq 0 ]; then echo "$name: ctest ran no test"; f=1; fi
  grep -E '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*Skipped' "$dir.ctest.log" | sed 's/^/skipped: /' || true
  passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
}
suite "tests" "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != quick ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  suite "tests under ASan+UBSan" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DGLRUN_SANITIZE=ON
  unset ASAN_OPTIONS UBSAN_OPTIONS
  if command -v clang >/dev/null; then
    CTEST_FILTER="^fuzz\\." suite "fuzz targets" "$root/build-fuzz" -DCMAKE_BUILD_TYPE=Debug -DGLRUN_FUZZ=ON -DCMAKE_C_COMPILER=clang
  fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
