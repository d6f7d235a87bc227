# glrun policy test: the scenario library on glmock through real chats.
# The default policy answers every scenario but the blocked answer (exit
# 0); a policy that gives up at the first failure loses answers the
# default keeps (exit 1, the rows marked); the example cost-aware policy
# keeps them all.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/policy.sh"
clean_env
export XDG_CONFIG_HOME="$TMP/xdg"

run "$GLRUN" policy test
expect_eq "default policy: exit 0" 0 "$RC"
for s in "Live 404 through a proxy" "Live 1008 retired model" "Live 1007 modality" "Live 1011 mid-turn" "Live goAway" \
         "429 per minute, RetryInfo" "429 per day" "503 on the first model" "cut stream" "flex shedding"; do
  expect_match "default: $s answered, history intact" "^$s +answered over (live|rest) [^ ]+ +2/2 +[0-9]+ +[0-9.]+ s +intact" "$OUT"
done
expect_match "default: the Live 404 falls back to REST" "^Live 404 through a proxy +answered over rest" "$OUT"
expect_match "default: 429 per day moves to the next REST model" "^429 per day +answered over rest gemini-[0-9.]+-flash-lite" "$OUT"
expect_match "default: a blocked answer fails, nothing enters the history" "^blocked answer +failed: blocked +0/2 +[0-9]+ +[0-9.]+ s +intact" "$OUT"
expect_match "default: the summary" "11 scenarios, 10 answered, 0 lost" "$OUT"
expect_match "glmock is started by glrun policy test itself" "talking to glmock" "$ERR"

write_never_policy "$TMP/never.lua"
run "$GLRUN" policy test --policy "$TMP/never.lua"
expect_eq "a policy that loses answers: exit 1" 1 "$RC"
expect_match "the lost scenario, the default's outcome beside it" "^Live 404 through a proxy +failed: ws_handshake 404 +0/2 .* +answered over rest [^ ]+ +<- LOST" "$OUT"
expect_match "a 429 lost" "^429 per minute, RetryInfo +failed: http 429 .*<- LOST" "$OUT"
expect_no_match "the blocked answer is not counted as lost (the default fails too)" "^blocked answer .*LOST" "$OUT"
expect_match "the summary counts the lost ones" "11 scenarios, [0-9]+ answered, [1-9][0-9]* lost against the default policy" "$OUT"

run "$GLRUN" --mock --policy "$TMP/never.lua" policy test --only "429 per day"
expect_eq "under --mock, --only one scenario: exit 1" 1 "$RC"
expect_eq "--only: one row" 1 "$(printf '%s\n' "$OUT" | grep -c '^429 per day ')"

run "$GLRUN" policy test --policy "$SRC/examples/policies/cost_aware.lua"
expect_eq "cost_aware.lua keeps every answer: exit 0" 0 "$RC"
expect_match "cost_aware.lua: REST only, flash-lite first" "^Live 404 through a proxy +answered over rest gemini-[0-9.]+-flash-lite" "$OUT"
expect_match "cost_aware.lua: nothing lost" "0 lost against the default policy" "$OUT"

printf 'return { max_attempts = 0 }\n' > "$TMP/bad.lua"
run "$GLRUN" policy test --policy "$TMP/bad.lua"
expect_eq "an invalid policy is refused before any scenario: exit 1" 1 "$RC"
expect_match "an invalid policy: why" "max_attempts must be at least 1" "$ERR"
finish
