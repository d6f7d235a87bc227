# glrun chat with standard input not a terminal (scripted use) and its
# failure paths: every line a user turn, commands too, replies alone on
# stdout; a bad key and every transport down give one clear line each, a
# final message, exit status 1, and the conversation saved when asked.
. "$(dirname "$0")/lib/sh.sh"
clean_env
fast="$TMP/fast_policy.lua"
echo 'return { backoff_base = 0.01, backoff_cap = 0.05 }' > "$fast"

# scripted: lines in, replies out
printf 'first question\n/transport rest\n/model gemini-2.5-pro\n\nsecond\n//slash text\n/save %s\n' "$TMP/p.json" >"$TMP/in"
timeout 60 "$GLRUN" --mock chat <"$TMP/in" >"$TMP/out" 2>"$TMP/err"; RC=$?
OUT=$(cat "$TMP/out"); ERR=$(cat "$TMP/err")
expect_eq "scripted chat exits 0" 0 "$RC"
expect_eq "stdout holds the replies only" "$(printf 'echo: first question\necho: second\necho: /slash text')" "$OUT"
expect_match "command feedback on stderr" "transport: rest" "$ERR"
expect_match "/model on stderr" "model: gemini-2.5-pro \(REST\)" "$ERR"
expect_no_match "no prompt, no banner without a terminal" "Ctrl-D leaves|^> " "$ERR"
expect_no_match "no colours without a terminal" $'\e' "$ERR$OUT"
expect_match "/save works from a script" "saved 6 messages" "$ERR"

# --load continues a saved conversation; --system; --save-on-exit
printf 'third\n' | timeout 60 "$GLRUN" --mock chat --load "$TMP/p.json" --system "Be brief." \
  --save-on-exit "$TMP/p2.json" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "--load then a turn" "0 echo: third" "$RC $(cat "$TMP/out")"
run "$GLRUN" -e 'local j = require "glrun.json"; local f = assert(io.open(arg[1])); local t = assert(j.decode(f:read("a")))
  print(#t.history, t.transport, t.model, t.history[7].parts[1].text, t.system)' /dev/null "$TMP/p2.json"
expect_eq "--save-on-exit keeps the loaded turns, the new one and the settings" \
  "$(printf '8\trest\tgemini-2.5-pro\tthird\tBe brief.')" "$OUT"

# usage errors
run "$GLRUN" --mock chat --transport carrier-pigeon
expect_eq "a bad --transport is a usage error" 2 "$RC"
expect_match "and says what is allowed" "live, rest or auto" "$ERR"
run "$GLRUN" --mock chat --frobnicate
expect_eq "an unknown option is a usage error" 2 "$RC"
run "$GLRUN" chat --help
expect_eq "--help exits 0" 0 "$RC"
expect_match "--help lists the commands" "/save FILE" "$OUT"
printf 'hi\n' > "$TMP/hi"
timeout 60 "$GLRUN" --mock chat --load "$TMP/nonexistent.json" <"$TMP/hi" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "--load of a missing file fails" 1 "$RC"
expect_match "naming the file" "--load: .*nonexistent.json" "$(cat "$TMP/err")"

# a bad key: one clear line, the run goes on, exit 1 at the end
start_glmock
printf 'hello\nagain\n' | GEMINI_API_KEY=bad GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" timeout 60 "$GLRUN" \
  --policy "$fast" chat --save-on-exit "$TMP/bad.json" >"$TMP/out" 2>"$TMP/err"; RC=$?
ERR=$(cat "$TMP/err")
expect_eq "bad key: exit 1" 1 "$RC"
expect_eq "bad key: nothing on stdout" "" "$(cat "$TMP/out")"
expect_eq "bad key: one error line per turn" 2 "$(printf '%s\n' "$ERR" | grep -c '^error: ')"
expect_match "bad key: the server's reason" "^error: .*API key not valid" "$ERR"
expect_match "bad key: final message" "glrun chat: 2 of 2 turns got no answer; the conversation is saved in .*bad.json" "$ERR"
expect_no_match "the key never appears" "key=bad|: bad\b" "$ERR"
[ -s "$TMP/bad.json" ] && ok "bad key: --save-on-exit wrote the file" || bad "bad key: --save-on-exit wrote nothing"

# every transport goes down after the first answer
GEMINI_API_KEY=test-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" export GEMINI_API_KEY GOOGLE_GEMINI_BASE_URL
(
  echo "first"
  for _ in $(seq 1 100); do grep -q "echo: first" "$TMP/out" 2>/dev/null && break; sleep 0.1; done
  kill "$GLMOCK_PID"
  for _ in $(seq 1 50); do kill -0 "$GLMOCK_PID" 2>/dev/null || break; sleep 0.1; done
  echo "second"
) | timeout 60 "$GLRUN" --policy "$fast" chat --save-on-exit "$TMP/down.json" >"$TMP/out" 2>"$TMP/err"
RC=$?
unset GEMINI_API_KEY GOOGLE_GEMINI_BASE_URL
GLMOCK_PID=
ERR=$(cat "$TMP/err")
expect_eq "all down: exit 1" 1 "$RC"
expect_eq "all down: the first answer is there" "echo: first" "$(cat "$TMP/out")"
expect_eq "all down: one error line" 1 "$(printf '%s\n' "$ERR" | grep -c '^error: ')"
expect_match "all down: the error says what failed and that nothing answered" \
  "^error: REST gemini-3.5-flash-lite .*cannot reach the server.*no answer after [0-9]+ attempts" "$ERR"
expect_match "all down: clear final message" "^glrun chat: 1 of 2 turns got no answer; the conversation is saved in .*down.json$" "$ERR"
run "$GLRUN" -e 'local j = require "glrun.json"; local f = assert(io.open(arg[1])); local t = assert(j.decode(f:read("a")))
  print(#t.history, t.history[2].parts[1].text)' /dev/null "$TMP/down.json"
expect_eq "all down: the conversation was saved (the failed turn left out)" "$(printf '2\techo: first')" "$OUT"
finish
