# examples/hello.lua with --mock, and through run.sh's no-key path.
. "$(dirname "$0")/lib/sh.sh"
clean_env
run "$GLRUN" --mock "$SRC/examples/hello.lua"
expect_eq "hello exits 0" 0 "$RC"
expect_eq "hello streams the echo" "echo: Say hello to a new glrun user in one short sentence." "$OUT"
expect_match "--mock says so in one line" "^glrun: --mock: .*glmock" "$ERR"
expect_eq "--mock prints one line only" 1 "$(printf '%s\n' "$ERR" | wc -l)"
run "$GLRUN" --mock "$SRC/examples/hello.lua" "Why is the sky blue?"
expect_eq "hello takes a prompt" "echo: Why is the sky blue?" "$OUT"
# with a key and base URL, the same script talks to "the real service"
start_glmock
run env GEMINI_API_KEY=test-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" "$SRC/examples/hello.lua" "hi"
expect_eq "hello with a key" "echo: hi" "$OUT"
expect_eq "no mock line with a key" "" "$ERR"
finish
