# glrun ask: the answer on stdout, errors as one line on stderr, exit codes
# for scripts (0 answered, 1 no answer, 2 usage), --json, standard input.
. "$(dirname "$0")/lib/sh.sh"
clean_env
fast="$TMP/fast_policy.lua"
echo 'return { backoff_base = 0.01, backoff_cap = 0.05 }' > "$fast"

run "$GLRUN" --mock ask "Why is the sky blue?"
expect_eq "ask: exit 0" 0 "$RC"
expect_eq "ask: the answer on stdout" "echo: Why is the sky blue?" "$OUT"
expect_eq "ask: only the --mock line on stderr" 1 "$(printf '%s\n' "$ERR" | grep -c .)"
run "$GLRUN" --mock ask several words joined
expect_eq "ask: the words are joined" "echo: several words joined" "$OUT"

printf 'a question\nover two lines\n' | timeout 60 "$GLRUN" --mock ask - >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "ask -: reads standard input" "$(printf '0 echo: a question\nover two lines')" "$RC $(cat "$TMP/out")"

run "$GLRUN" --mock ask --system "Be brief." --model gemini-2.5-pro --transport rest hello
expect_eq "ask: --system, --model, --transport" "0 echo: hello" "$RC $OUT"
run "$GLRUN" --mock ask --transport auto hello there
expect_eq "ask --transport auto (Live first)" "0 echo: hello there" "$RC $OUT"

# --json: the raw GenerateContentResponse chunks, one per line
run "$GLRUN" --mock ask --json "one two three four five six"
expect_eq "ask --json: exit 0" 0 "$RC"
printf '%s\n' "$OUT" > "$TMP/json"
run "$GLRUN" -e 'local j = require "glrun.json"; local text, n, last = {}, 0, nil
  for line in io.lines(arg[1]) do
    local r = assert(j.decode(line)); n = n + 1; last = r
    assert(r.text == nil, "no glrun field in the raw response")
    text[#text + 1] = r.candidates[1].content.parts[1].text
  end
  print(n > 1, table.concat(text), last.candidates[1].finishReason, last.usageMetadata.totalTokenCount > 0, last.modelVersion)' /dev/null "$TMP/json"
expect_eq "ask --json: chunks that decode, in order, with usage and finishReason" \
  "$(printf 'true\techo: one two three four five six\tSTOP\ttrue\tgemini-3.8-flash')" "$OUT"

# usage errors: exit 2
run "$GLRUN" --mock ask
expect_eq "ask without a question: exit 2" 2 "$RC"
expect_match "and says how to ask" "no question" "$ERR"
run "$GLRUN" --mock ask --frob hi
expect_eq "ask with an unknown option: exit 2" 2 "$RC"
run "$GLRUN" --mock ask --transport pigeon hi
expect_eq "ask with a bad transport: exit 2" 2 "$RC"
run "$GLRUN" --mock ask --json --transport live hi
expect_eq "ask --json over Live: exit 2" 2 "$RC"
printf '  \n' | timeout 60 "$GLRUN" --mock ask - >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "ask - with empty input: exit 2" 2 "$RC"
run "$GLRUN" ask --help
expect_eq "ask --help: exit 0" 0 "$RC"
expect_match "ask --help: the exit codes" "exit status: 0 answered, 1 no answer" "$OUT"

# failures: exit 1, one line
run "$GLRUN" ask hi
expect_eq "no API key: exit 1" 1 "$RC"
expect_eq "no API key: one line" 1 "$(printf '%s\n' "$ERR" | grep -c .)"
expect_match "no API key: says what to set" "^glrun ask: no API key: set GEMINI_API_KEY" "$ERR"

start_glmock
run env GEMINI_API_KEY=bad GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" ask hi
expect_eq "bad key: exit 1" 1 "$RC"
expect_eq "bad key: nothing on stdout" "" "$OUT"
expect_eq "bad key: one line on stderr" 1 "$(printf '%s\n' "$ERR" | grep -c .)"
expect_match "bad key: the server's reason" "^glrun ask: REST gemini-3.8-flash .*HTTP 400 INVALID_ARGUMENT: API key not valid" "$ERR"
run env GEMINI_API_KEY=bad GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" ask --json hi
expect_eq "bad key with --json: exit 1, nothing on stdout" "1 " "$RC $OUT"
run env GEMINI_API_KEY=k GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --policy "$fast" ask --model gemini-overloaded hi
expect_eq "an overloaded model falls back down the chain" "0 echo: hi" "$RC $OUT"
expect_match "and says so on stderr" "HTTP 503 UNAVAILABLE .*falling back to REST gemini-3.8-flash" "$ERR"
url=$GLMOCK_URL
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=
run env GEMINI_API_KEY=k GOOGLE_GEMINI_BASE_URL="$url" "$GLRUN" --policy "$fast" ask hi
expect_eq "server down: exit 1" 1 "$RC"
expect_match "server down: the last line says it" "^glrun ask: REST .*cannot reach the server \(connect\) \(no answer after [0-9]+ attempts\)$" \
  "$(printf '%s\n' "$ERR" | tail -1)"
finish
