# The flows over the resource APIs, against one glmock that keeps its state
# between runs: glrun ask -f / --schema, /attach in glrun chat, glrun token,
# glrun batch (submit, the journal that never pays twice, recovery after a
# crash between the request and the journal, wait, --deadline finishing the
# rest synchronously, fetch in input order, cancel, list), bad input as one
# line that loses nothing.
. "$(dirname "$0")/lib/sh.sh"
clean_env
start_glmock
export GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" GEMINI_API_KEY=cli-test-key XDG_STATE_HOME="$TMP/state"

printf 'hello file\n' > "$TMP/note.txt"

# ---- glrun ask -f / --schema
run "$GLRUN" ask -f "$TMP/note.txt" "summarise it"
expect_eq "ask -f: answered" "0 echo: summarise it" "$RC $OUT"
run "$GLRUN" ask -f "$TMP/missing.pdf" "summarise it"
expect_eq "ask -f with a missing file: exit 1" 1 "$RC"
expect_eq "ask -f with a missing file: one line naming it" "glrun ask: attach: cannot read $TMP/missing.pdf: No such file or directory" "$ERR"
printf '{"type":"object","required":["summary","pages"],"properties":{"summary":{"type":"string"},"pages":{"type":"integer","minimum":2}}}' > "$TMP/s.json"
run "$GLRUN" ask --schema "$TMP/s.json" -f "$TMP/note.txt" "summarise it"
expect_eq "ask --schema: the JSON value on one line" '0 {"summary":"echo: summarise it","pages":2}' "$RC $(printf '%s' "$OUT" | sed 's/"pages":2,"summary":"echo: summarise it"/"summary":"echo: summarise it","pages":2/')"
run "$GLRUN" ask --schema "$TMP/s.json" --model gemini-2.5-flash-schemabad "x"
expect_eq "ask --schema, a reply that never fits: exit 1" 1 "$RC"
expect_match "ask --schema: says what did not fit" "^glrun ask: the reply does not match the schema, even when asked again: \\\$\.(summary|pages): required, missing" "$ERR"
printf '[1, 2' > "$TMP/bad.json"
run "$GLRUN" ask --schema "$TMP/bad.json" "x"
expect_eq "ask --schema with a broken file: exit 2, one line" "2 glrun ask: --schema $TMP/bad.json: invalid JSON at byte 6: unexpected end of input" "$RC $ERR"
printf '"a string"' > "$TMP/str.json"
run "$GLRUN" ask --schema "$TMP/str.json" "x"
expect_eq "ask --schema that is not an object" "2 glrun ask: --schema $TMP/str.json: not a JSON object (a schema is an object)" "$RC $ERR"
run "$GLRUN" ask --schema "$TMP/s.json" --transport live "x"
expect_eq "ask --schema over Live is a usage error" 2 "$RC"

# ---- /attach in glrun chat
printf '/attach %s\nwhat is this\n/attach %s\nand this\n' "$TMP/note.txt" "$TMP/nope.txt" >"$TMP/chat.in"
timeout 60 "$GLRUN" chat --transport rest --save-on-exit "$TMP/conv.json" <"$TMP/chat.in" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "chat /attach: both turns answered" "0
echo: what is this
echo: and this" "$RC
$(cat "$TMP/out")"
expect_match "chat /attach: a missing file is one error line" "error: attach: cannot read $TMP/nope.txt" "$(cat "$TMP/err")"
expect_match "chat /attach: the file went with the message" '"inlineData"' "$(cat "$TMP/conv.json")"

# ---- glrun token
run "$GLRUN" token --model gemini-live-text-test --uses 2 --ttl 10m
expect_eq "token: exit 0" 0 "$RC"
expect_match "token: the name on stdout" "^auth_tokens/[a-z0-9]+$" "$OUT"
TOKEN=$OUT
expect_no_match "token: never in stderr" "auth_tokens" "$ERR"
run "$GLRUN" -e "
local s = assert(gemini.live.connect{ client = { api_key = '$TOKEN' }, model = 'gemini-nonexistent-live', modality = 'text' })
assert(s:send_text('via the token'))
local text = assert(s:receive_turn(20))
print(text)"
expect_eq "token: opens a Live session on its locked model" "0 echo: via the token" "$RC $OUT"
run "$GLRUN" token --json --uses 3 --ttl 90s --session-ttl 30s
expect_match "token --json" '"uses":3' "$OUT"
expect_match "token --json: expireTime" '"expireTime":"[0-9]{4}-' "$OUT"
run "$GLRUN" token --ttl soon
expect_eq "token --ttl soon: usage error" 2 "$RC"
run "$GLRUN" token --ttl 1m --session-ttl 5m
expect_eq "token: a session window longer than the token" 2 "$RC"
run env -u GEMINI_API_KEY GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_API_KEY=vertex-key "$GLRUN" token
expect_eq "token on Vertex AI: exit 1" 1 "$RC"
expect_match "token on Vertex AI: one line" "^glrun token: tokens.create \(ephemeral tokens\) is a Gemini API feature" "$ERR"
expect_eq "token on Vertex AI: one line only" 1 "$(printf '%s\n' "$ERR" | wc -l)"

# ---- glrun batch
printf 'one\n{"prompt": "two", "system": "Be brief."}\n{not json\n\nfour batch-error\nfive\n' > "$TMP/in.txt"
run "$GLRUN" batch submit "$TMP/in.txt"
JOB=$OUT
expect_match "batch submit: prints the job" "^batches/[a-z0-9]+$" "$JOB"
expect_eq "batch submit: exit 1 (a line could not be sent)" 1 "$RC"
expect_eq "batch submit: the bad line named by its number" "glrun batch: line 3: not JSON (invalid JSON at byte 2: expected a string key)" "$ERR"
expect_eq "batch submit: the journal has the job" 1 "$(grep -c "\"event\":\"submit\".*${JOB#batches/}\|${JOB#batches/}.*\"event\":\"submit\"" "$TMP/state/glrun/batches.jsonl")"
run "$GLRUN" batch submit "$TMP/in.txt"
expect_eq "batch submit again: the same job, not a new one" "$JOB" "$OUT"
expect_match "batch submit again: says so" "submitted already as $JOB" "$ERR"
run "$GLRUN" batch list
expect_eq "batch list: one job" 1 "$(printf '%s\n' "$OUT" | grep -c '^batches/')"
run "$GLRUN" batch status "$JOB"
expect_match "batch status" "^$JOB  BATCH_STATE_[A-Z]+  4 requests" "$OUT"
run "$GLRUN" batch wait "$JOB" --interval 0.05s
expect_eq "batch wait: done" 0 "$RC"
expect_match "batch wait: the final state on stderr" "BATCH_STATE_SUCCEEDED  4 requests: 3 succeeded, 1 failed, 0 pending" "$ERR"
run "$GLRUN" batch fetch "$JOB" -o "$TMP/out.jsonl"
expect_eq "batch fetch: exit 1 (two lines without an answer)" 1 "$RC"
expect_eq "batch fetch: one line per input line, in order" "1 2 3 5 6" \
  "$(grep -o '"line":[0-9]*' "$TMP/out.jsonl" | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')"
expect_match "batch fetch: answers" '"text":"echo: five"' "$(sed -n 5p "$TMP/out.jsonl")"
expect_match "batch fetch: the bad input line" '"route":"input"' "$(sed -n 3p "$TMP/out.jsonl")"
expect_match "batch fetch: the request the batch refused" '"error":"Request contains an invalid argument."' "$(sed -n 4p "$TMP/out.jsonl")"

# a crash between the request and the journal: the rerun finds the job by its tag
printf 'crash one\ncrash two\n' > "$TMP/crash.txt"
run "$GLRUN" batch submit "$TMP/crash.txt"
CJOB=$OUT
grep -v "\"event\":\"submit\".*${CJOB#batches/}\|${CJOB#batches/}.*\"event\":\"submit\"" "$TMP/state/glrun/batches.jsonl" > "$TMP/j" && mv "$TMP/j" "$TMP/state/glrun/batches.jsonl"
rm -f "$TMP/state/glrun/batches/${CJOB#batches/}.input.jsonl"
run "$GLRUN" batch submit "$TMP/crash.txt"
expect_eq "batch submit after a crash: the job it had created" "0 $CJOB" "$RC $OUT"
expect_match "batch submit after a crash: says so" "found $CJOB, submitted before a crash" "$ERR"
run "$GLRUN" batch list
expect_eq "batch submit after a crash: still two jobs" 2 "$(printf '%s\n' "$OUT" | grep -c '^batches/')"
run "$GLRUN" batch submit --new "$TMP/crash.txt"
expect_match "batch submit --new: a new job" "^batches/" "$OUT"
[ "$OUT" != "$CJOB" ] && ok "batch submit --new: not the old job" || bad "batch submit --new gave the old job"

# --deadline: a job stuck in PENDING is cancelled and answered here
run "$GLRUN" batch submit --display-name stuck "$TMP/in.txt"
SJOB=$OUT
run "$GLRUN" batch wait "$SJOB" --deadline 0.3s --interval 0.05s -o "$TMP/merged.jsonl"
expect_eq "batch wait --deadline: exit 1 (the bad input line)" 1 "$RC"
expect_match "batch wait --deadline: cancels and answers the rest" "still BATCH_STATE_PENDING at the deadline" "$ERR"
expect_match "batch wait --deadline: the count" "0 answered by the batch, 4 here" "$ERR"
expect_eq "batch wait --deadline: every answerable line answered here" 4 "$(grep -c '"route":"sync"' "$TMP/merged.jsonl")"
expect_eq "batch wait --deadline: the remainder asked on the flex tier (the policy's default)" 4 "$(grep -c '"tier":"flex"' "$TMP/merged.jsonl")"
run "$GLRUN" batch status "$SJOB"
expect_match "batch wait --deadline: the job was cancelled" "BATCH_STATE_CANCELLED" "$OUT"
run "$GLRUN" batch fetch "$SJOB"
expect_eq "batch fetch after --deadline: the merged lines" \
  "$(grep -o '"text":"[^"]*"' "$TMP/merged.jsonl")" "$(printf '%s\n' "$OUT" | grep -o '"text":"[^"]*"')"
expect_eq "batch fetch after --deadline: as many lines" 5 "$(printf '%s\n' "$OUT" | wc -l)"
# a job that stops half way: its half kept, the other half answered here
run "$GLRUN" batch submit --display-name half "$TMP/in.txt"
HJOB=$OUT
run "$GLRUN" batch wait "$HJOB" --deadline 0.3s --interval 0.05s
expect_match "batch wait --deadline on a half-done job" "2 answered by the batch, 2 here" "$ERR"
run "$GLRUN" batch fetch "$HJOB"
expect_eq "batch fetch: routes in input order" "batch batch input sync sync" \
  "$(printf '%s\n' "$OUT" | grep -o '"route":"[a-z]*"' | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//')"

run "$GLRUN" batch cancel "$JOB"
expect_match "batch cancel of a finished job: its state" "BATCH_STATE_SUCCEEDED" "$OUT"
run "$GLRUN" batch delete "$JOB"
expect_eq "batch delete: says so" "0 $JOB deleted" "$RC $OUT"
run "$GLRUN" batch status "$JOB"
expect_eq "batch status of a deleted job fails" 1 "$RC"
run "$GLRUN" batch frobnicate
expect_eq "batch: an unknown command is a usage error" 2 "$RC"
run "$GLRUN" batch submit "$TMP/nothing-here.txt"
expect_eq "batch submit of a missing file" "1 glrun batch: cannot read $TMP/nothing-here.txt" "$RC $ERR"
finish
