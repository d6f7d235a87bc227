# Every example in examples/ runs against glmock (--mock) and its output is
# checked. A new example without a check here fails this test.
. "$(dirname "$0")/lib/sh.sh"
clean_env
E="$SRC/examples"
checked=""
ex() { checked="$checked $1"; }

ex hello.lua
run "$GLRUN" --mock "$E/hello.lua" "Hi there"
expect_eq "hello.lua streams the answer" "0 echo: Hi there" "$RC $OUT"

ex ask_json.lua
run "$GLRUN" --mock "$E/ask_json.lua"
expect_eq "ask_json.lua: the request and response tables" "0
prompt tokens: 8
text: echo: Name a primary colour.
finishReason: STOP
tokens: 8 in, 5 out, 13 in all
echo: And a secondary one?
error: kind=http status=404 NOT_FOUND" "$RC
$OUT"

ex concurrent.lua
run "$GLRUN" --mock "$E/concurrent.lua"
expect_eq "concurrent.lua exits 0" 0 "$RC"
expect_eq "concurrent.lua: ten answers in order" "$(for i in $(seq 1 10); do printf '%d\techo: question number %d\n' $i $i; done)" \
  "$(printf '%s\n' "$OUT" | head -10)"
expect_eq "concurrent.lua: the loop was never blocked" "10 of 10 answered, the ticker ticked 3 times, all at once" \
  "$(printf '%s\n' "$OUT" | tail -1)"

ex fallback.lua
run "$GLRUN" --mock "$E/fallback.lua"
expect_eq "fallback.lua exits 0" 0 "$RC"
expect_eq "fallback.lua: both cases answered over REST" 2 "$(printf '%s\n' "$OUT" | grep -c '^(answered over rest gemini-2.5-flash)$')"
expect_match "fallback.lua: the 404 explained" "HTTP 404. The Live path is wrong or a proxy" "$ERR"
expect_match "fallback.lua: the 1008 explained" "1008 .*unknown, retired, or not offered for Live" "$ERR"

ex custom_policy.lua
run env GLRUN_WEEKDAY=3 "$GLRUN" --mock --policy "$E/policies/rest_on_weekdays.lua" "$E/custom_policy.lua"
expect_eq "custom_policy.lua on a weekday: REST first, 1008 falls back" "0
echo: What is a WebSocket?
(over rest gemini-2.5-flash)
answered over rest" "$RC
$OUT"
run env GLRUN_WEEKDAY=1 "$GLRUN" --mock --policy "$E/policies/rest_on_weekdays.lua" "$E/custom_policy.lua"
expect_match "custom_policy.lua on a Sunday: Live first" "^\(over live " "$(printf '%s\n' "$OUT" | sed -n 2p)"
expect_match "custom_policy.lua on a Sunday: the 1008 is reported, not hidden" "^refused: .*1008.*does not fall back on 1008" \
  "$(printf '%s\n' "$OUT" | sed -n 3p)"
run "$GLRUN" --mock "$E/custom_policy.lua"
expect_eq "custom_policy.lua with the default policy" "0
echo: What is a WebSocket?
(over live gemini-2.5-flash-native-audio-latest)
answered over rest" "$RC
$OUT"

ex tools.lua
run "$GLRUN" --mock "$E/tools.lua"
expect_eq "tools.lua exits 0" 0 "$RC"
expect_eq "tools.lua: the function was called over REST, then over Live" \
  "$(printf '  [rest called get_weather]\n  [live called get_weather]')" "$(printf '%s\n' "$OUT" | grep called)"
# (the order of JSON members follows Lua's table order: match each one)
for m in '"location":"Paris"' '"forecast":"sunny"' '"celsius":21'; do
  expect_match "tools.lua: REST answer carries $m" "^echo: \{.*$m" "$(printf '%s\n' "$OUT" | sed -n 2p)"
  expect_match "tools.lua: Live answer carries $m" "^echo: get_weather -> \{.*$m" "$(printf '%s\n' "$OUT" | sed -n 4p)"
done

ex live_text.lua
run "$GLRUN" --mock "$E/live_text.lua" "Hello there" "And one more"
expect_eq "live_text.lua exits 0" 0 "$RC"
expect_match "live_text.lua: both turns answered" "^> Hello there
echo: Hello there
\[[0-9]+ tokens\]
> And one more
echo: And one more
\[[0-9]+ tokens\]$" "$OUT"

ex live_audio.lua
run "$GLRUN" --mock "$E/live_audio.lua" - "$TMP/reply.wav"
expect_eq "live_audio.lua exits 0" 0 "$RC"
expect_match "live_audio.lua: the input transcript" "^you: 1000 ms of audio$" "$OUT"
expect_match "live_audio.lua: the reply's transcript" "^model: echo: audio 1000 ms$" "$OUT"
expect_match "live_audio.lua: a WAV written" "^wrote .*reply.wav: [0-9.]+ s of 24000 Hz audio$" "$OUT"
expect_eq "live_audio.lua: the file is a WAV" "RIFF" "$(head -c 4 "$TMP/reply.wav")"

ex repl.lua
printf 'hello\n\nand again\n' | timeout 60 "$GLRUN" --mock "$E/repl.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "repl.lua: lines in, answers out" "0
echo: hello
echo: and again
4 messages in the conversation" "$RC
$(cat "$TMP/out")"

ex batch.lua
printf 'one\n{"prompt": "two", "model": "gemini-nonexistent"}\nthree\n' > "$TMP/prompts"
run "$GLRUN" --mock "$E/batch.lua" "$TMP/prompts"
expect_eq "batch.lua: exit 1 when a prompt failed" 1 "$RC"
expect_eq "batch.lua: three lines in order" "1 2 3" "$(printf '%s\n' "$OUT" | grep -o '"index":[0-9]*' | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')"
expect_match "batch.lua: the failure on its line" '"error":"REST gemini-nonexistent' "$(printf '%s\n' "$OUT" | sed -n 2p)"
expect_match "batch.lua: progress on stderr" "^batch: 3/3 done, 1 failed" "$(printf '%s\n' "$ERR" | tail -1)"

# every example has a check above
for f in "$E"/*.lua; do
  n=$(basename "$f")
  case " $checked " in
    *" $n "*) ;;
    *) bad "examples/$n has no check in tests/e2e/examples.sh" ;;
  esac
done
finish
