# A corrupt cassette (--replay DIR with a truncated, non-JSON or
# misshapen file) ends the run with one line naming the file and what is
# wrong, and a non-zero exit; never a traceback.
. "$(dirname "$0")/lib/sh.sh"
clean_env
start_glmock
cat > "$TMP/flow.lua" <<'L'
print((assert(gemini.ask("first"))))
for p in assert(gemini.stream("second")) do io.write(p) end print()
L
run env GEMINI_API_KEY=AIzaCASSETTE-test-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --record "$TMP/cas" "$TMP/flow.lua"
expect_eq "recording exits 0" 0 "$RC"
run "$GLRUN" --replay "$TMP/cas" "$TMP/flow.lua"
expect_eq "the intact cassette replays" "0 echo: first" "$RC $(printf '%s\n' "$OUT" | head -1)"

# corrupt NAME CONTENT: the second file replaced, then replayed
corrupt() {
  rm -rf "$TMP/bad"; cp -r "$TMP/cas" "$TMP/bad"
  printf '%s' "$2" > "$TMP/bad/0002-http.json"
  run "$GLRUN" --replay "$TMP/bad" "$TMP/flow.lua"
  expect_eq "$1: exit status 1" 1 "$RC"
  expect_eq "$1: one line on stderr" 1 "$(printf '%s\n' "$ERR" | wc -l)"
  expect_no_match "$1: no traceback" "traceback|\.lua:[0-9]+:" "$ERR"
  expect_match "$1: the line names the file" "0002-http\.json" "$ERR"
}
corrupt "truncated" "$(head -c 150 "$TMP/cas/0002-http.json")"
expect_match "truncated: says it is not JSON" "is corrupt: it is not JSON" "$ERR"
corrupt "empty" ""
expect_match "empty: says so" "is corrupt: it is empty" "$ERR"
corrupt "not JSON" "hello"
corrupt "a JSON string" '"x"'
expect_match "a JSON string: says what it should be" "the file should be a JSON object" "$ERR"
corrupt "no request" '{"kind":"http","events":[]}'
expect_match "no request: says which field" '"request" should be a JSON object, it is missing' "$ERR"
corrupt "bad base64" '{"kind":"http","request":{"method":"POST","url":"/x"},"events":[{"t":0,"dir":"recv","b64":"!!!"}]}'
expect_match "bad base64: names the event" 'event 1: "b64" is not base64' "$ERR"
corrupt "response not an object" '{"kind":"http","request":{"method":"POST","url":"/x"},"response":"y","events":[]}'
expect_match "response not an object: says so" '"response" should be a JSON object, it is a string' "$ERR"
corrupt "events not an array" '{"kind":"http","request":{"method":"POST","url":"/x"},"events":7}'
expect_match "events not an array: says so" '"events" should be a JSON array, it is a number' "$ERR"

# glrun ask reports it in its own one line
rm -rf "$TMP/bad"; cp -r "$TMP/cas" "$TMP/bad"; head -c 100 "$TMP/cas/0001-http.json" > "$TMP/bad/0001-http.json"
run "$GLRUN" --replay "$TMP/bad" ask "first"
expect_eq "glrun ask: exit 1" 1 "$RC"
expect_match "glrun ask: one line naming the file" "^glrun ask: .*0001-http\.json is corrupt" "$ERR"
expect_eq "glrun ask: one line only" 1 "$(printf '%s\n' "$ERR" | wc -l)"
finish
