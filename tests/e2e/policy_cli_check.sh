# glrun policy check [FILE]: a valid policy is described knob by knob with
# where each value comes from (exit 0); an invalid one gets one line per
# problem (unknown knob, wrong type, a function that raises or never
# returns on a sample error) and exit 1.
. "$(dirname "$0")/lib/sh.sh"
clean_env
export XDG_CONFIG_HOME="$TMP/xdg"

run "$GLRUN" policy check
expect_eq "the defaults: exit 0" 0 "$RC"
expect_match "the defaults: named" "^policy: the defaults" "$OUT"
expect_match "a knob row: section, knob, source, value" "deadlines +turn_deadline +default +90" "$OUT"
expect_match "the chain as resolved from the catalog query" "chain.rest +default +gemini-[0-9.]+-flash <- \{family = flash" "$OUT"
expect_match "a decision on a sample error: 429 with RetryInfo waits what it asks" "REST 429 per minute, RetryInfo 1.5 s +retry in 1.5 s" "$OUT"
expect_match "a decision: Live 404 falls back and opens the circuit" "Live handshake 404.*fall back, Live off" "$OUT"
expect_match "the verdict" "^valid$" "$OUT"

POL="$SRC/examples/policies/cost_aware.lua"
run "$GLRUN" policy check "$POL"
expect_eq "cost_aware.lua: exit 0" 0 "$RC"
expect_match "a knob from the file, with its line" "flex_timeout +[^ ]*cost_aware.lua:[0-9]+ +120" "$OUT"
expect_match "a knob left to the default" "turn_deadline +default +90" "$OUT"
expect_match "its classify: a long RetryInfo wait becomes a fallback" "REST 429 per day +fall back" "$OUT"

# the policy a chat would use: --policy, then the XDG file
run "$GLRUN" --policy "$POL" policy check
expect_match "--policy FILE is the one checked" "^policy: .*cost_aware.lua" "$OUT"
mkdir -p "$TMP/xdg/glrun" && printf 'return { turn_deadline = 30 }\n' > "$TMP/xdg/glrun/policy.lua"
run "$GLRUN" policy check
expect_match "without FILE: the XDG policy.lua" "turn_deadline +[^ ]*xdg/glrun/policy.lua:1 +30" "$OUT"
rm -rf "$TMP/xdg/glrun"

cat > "$TMP/bad.lua" <<'L'
local P = {}
P.turn_dealine = 30
P.max_attempts = "eight"
P.transports = { "live", "grpc" }
function P.classify(err, at, p)
  return { action = "retry", reason = "x", delay = err.retry_after * 2 }
end
P._helper = true
return P
L
run "$GLRUN" policy check "$TMP/bad.lua"
expect_eq "an invalid policy: exit 1" 1 "$RC"
expect_match "unknown knob, with its line and the knob meant" "bad.lua:2: unknown knob turn_dealine \(did you mean turn_deadline\?\)" "$ERR"
expect_match "wrong type" "bad.lua:3: max_attempts must be a number" "$ERR"
expect_match "a wrong list value" "bad.lua:4: transports \[2\] is grpc" "$ERR"
expect_match "a function that raises on sample errors: one line" "bad.lua:5: classify raised: .*retry_after.* \(on REST .* and [0-9]+ other sample errors\)" "$ERR"
expect_eq "one line per problem (4)" 4 "$(printf '%s\n' "$ERR" | grep -c '^glrun policy check: ')"
expect_no_match "a _private name is not a problem" "_helper" "$ERR"
expect_match "the verdict" "invalid: 4 problems" "$OUT"

printf 'return { backoff = function() while true do end end,\n  classify = function() return { action = "retry", reason = "r" } end }\n' > "$TMP/loop.lua"
run "$GLRUN" policy check "$TMP/loop.lua"
expect_eq "a function that never returns: exit 1" 1 "$RC"
expect_match "a function that never returns is named, bounded" "loop.lua:1: backoff raised: did not return" "$ERR"

printf 'return { classify = function() return { action = "wait" } end }\n' > "$TMP/shape.lua"
run "$GLRUN" policy check "$TMP/shape.lua"
expect_match "a decision of the wrong shape" "classify: action wait: retry, reconnect, fallback or fail" "$ERR"

printf 'return {\n' > "$TMP/syntax.lua"
run "$GLRUN" policy check "$TMP/syntax.lua"
expect_eq "a syntax error: exit 1" 1 "$RC"
expect_match "a syntax error names the file" "cannot load: .*syntax.lua:" "$ERR"
printf 'return 7\n' > "$TMP/seven.lua"
run "$GLRUN" policy check "$TMP/seven.lua"
expect_match "not a table" "seven.lua must return a table, it returned number" "$ERR"

printf 'return {\n  chain = { live = { { family = "nonesuch", method = "bidiGenerateContent" } }, rest = { "gemini-2.5-flash" } },\n}\n' > "$TMP/nomatch.lua"
run "$GLRUN" policy check "$TMP/nomatch.lua"
expect_eq "a chain query that matches no model: still valid" 0 "$RC"
expect_match "... but a warning says so" "warning: chain.live\[1\] matches no model" "$ERR"
expect_match "the chain row names the file line" "chain.rest +[^ ]*nomatch.lua:2 +gemini-2.5-flash" "$OUT"

run "$GLRUN" policy frobnicate
expect_eq "an unknown subcommand: exit 2" 2 "$RC"
run "$GLRUN" policy check a.lua b.lua
expect_eq "two files: exit 2" 2 "$RC"
run "$GLRUN" policy --help
expect_match "--help lists the three commands" "simulate.*test" "$(printf '%s' "$OUT" | tr '\n' ' ')"
finish
