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
expect_eq "fallback.lua: the proxy case answered over REST" 1 "$(printf '%s\n' "$OUT" | grep -c '^(answered over rest gemini-3.8-flash)$')"
expect_eq "fallback.lua: the unknown Live model's case over its replacement" 1 "$(printf '%s\n' "$OUT" | grep -c '^(answered over live gemini-3.8-live)$')"
expect_match "fallback.lua: the 404 explained" "HTTP 404. The Live path is wrong or a proxy" "$ERR"
expect_match "fallback.lua: the 1008 explained" "1008 .*unknown, retired, or not offered for Live" "$ERR"

ex custom_policy.lua
run env GLRUN_WEEKDAY=3 "$GLRUN" --mock --policy "$E/policies/rest_on_weekdays.lua" "$E/custom_policy.lua"
expect_eq "custom_policy.lua on a weekday: REST first, 1008 falls back" "0
echo: What is a WebSocket?
(over rest gemini-3.8-flash)
answered over rest" "$RC
$OUT"
run env GLRUN_WEEKDAY=1 "$GLRUN" --mock --policy "$E/policies/rest_on_weekdays.lua" "$E/custom_policy.lua"
expect_match "custom_policy.lua on a Sunday: Live first" "^\(over live " "$(printf '%s\n' "$OUT" | sed -n 2p)"
expect_match "custom_policy.lua on a Sunday: the 1008 is reported, not hidden" "^refused: .*1008.*does not fall back on 1008" \
  "$(printf '%s\n' "$OUT" | sed -n 3p)"
run "$GLRUN" --mock "$E/custom_policy.lua"
expect_eq "custom_policy.lua with the default policy: the unknown Live model gives way to its replacement" "0
echo: What is a WebSocket?
(over live gemini-3.8-live)
answered over live" "$RC
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

ex files.lua
run "$GLRUN" --mock "$E/files.lua"
expect_eq "files.lua exits 0" 0 "$RC"
expect_match "files.lua: uploaded with the resumable protocol" "^uploaded files/[a-z0-9]+ \(text/plain, 43 bytes, ACTIVE\)$" "$(printf '%s\n' "$OUT" | sed -n 1p)"
expect_eq "files.lua: asked about, then deleted" "echo: Summarise the report." "$(printf '%s\n' "$OUT" | sed -n 2p)"
expect_match "files.lua: deleted" "^deleted files/" "$(printf '%s\n' "$OUT" | sed -n 3p)"
expect_match "files.lua: upload progress on stderr" "uploading 43/43 bytes" "$ERR"

ex structured.lua
run "$GLRUN" --mock "$E/structured.lua"
expect_eq "structured.lua: the answer as a table, and the validator" "0
title:  echo: Review the film Metropolis in a few words.
tags:   echo: Review the film Metropolis in a few words.
rating: 1
false	\$.rating: required, missing" "$RC
$OUT"

ex embed.lua
run "$GLRUN" --mock "$E/embed.lua"
expect_eq "embed.lua exits 0" 0 "$RC"
expect_eq "embed.lua: three vectors of 256" "3 documents, 256 dimensions each" "$(printf '%s\n' "$OUT" | sed -n 1p)"
expect_match "embed.lua: a nearest document" "^nearest: document [1-3] \(cosine -?[0-9.]+\)$" "$(printf '%s\n' "$OUT" | sed -n 2p)"

ex caches.lua
run "$GLRUN" --mock "$E/caches.lua"
expect_eq "caches.lua exits 0" 0 "$RC"
expect_match "caches.lua: the cache" "^cache cachedContents/[a-z0-9]+: 1505 tokens, expires " "$(printf '%s\n' "$OUT" | sed -n 1p)"
expect_eq "caches.lua: two answers from the cache" "echo: Who are the parties?  [1505 tokens from the cache]
echo: When does it end?  [1505 tokens from the cache]" "$(printf '%s\n' "$OUT" | sed -n 2,3p)"

ex token.lua
run "$GLRUN" --mock "$E/token.lua"
expect_eq "token.lua: a token opens one session" "0
echo: Hello from the browser
second session refused: close 1007" "$RC
$(printf '%s\n' "$OUT" | sed -n 2,3p)"
expect_no_match "token.lua: the token itself is never printed" "auth_tokens/[a-z0-9]" "$OUT"

ex batch_job.lua
run "$GLRUN" --mock "$E/batch_job.lua"
expect_eq "batch_job.lua: a job, its states, answers by key" "0
BATCH_STATE_PENDING
BATCH_STATE_SUCCEEDED
q1	echo: Why is the sky blue?
q2	echo: What is SSE?
q3	echo: Name a prime number." "$RC
$(printf '%s\n' "$OUT" | sed -n '1,2s/^batches\/[a-z0-9]* //p;3,$p')"
expect_match "batch_job.lua: progress on stderr" "BATCH_STATE_SUCCEEDED: 3/3 done" "$ERR"

ex live3_chat.lua
run "$GLRUN" --mock "$E/live3_chat.lua"
expect_eq "live3_chat.lua: Live, REST, then Live seeded with the history" "0
> My name is Ann.
echo: My name is Ann.
  [live gemini-3.8-live]
> What is the capital of France?
echo: What is the capital of France?
  [rest gemini-3.8-flash]
> What is my name?
echo: What is my name? (history: 4 turns)
  [live gemini-3.8-live]
6 messages in the conversation" "$RC
$OUT"

ex continuation.lua
run "$GLRUN" --mock "$E/continuation.lua"
expect_eq "continuation.lua: one answer from three requests; off, the first part" "0
echo: one two three four five six seven eight nine ten
3 requests, 41 tokens in all (the prompt counts once per request), finishReason STOP
echo: one two three
finishReason CONTINUATION" "$RC
$OUT"

# every example has a check above
for f in "$E"/*.lua; do
  n=$(basename "$f")
  case " $checked " in
    *" $n "*) ;;
    *) bad "examples/$n has no check in tests/e2e/examples.sh" ;;
  esac
done
finish
