# glrun doctor on a healthy configuration (glmock): every check passes,
# exit 0; --json is one JSON document; --plain and a non-UTF-8 locale give
# ASCII; --help; no secret printed.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/doctor.sh"
doctor_on_glmock
doctor
expect_eq "a healthy configuration: exit 0 (text, --json)" "0 0" "$TRC $JRC"
expect_match "--json parses, ok = true" "^#ok	true$" "$ROWS"
expect_no_match "--json: no check failed or skipped" "	(false|null)	" "$ROWS"
expect_match "the policy check names the chain" "^✓ policy +the defaults \(gemini.policy\); transports live, rest; Live gemini-3.8-live; REST gemini-3.8-flash" "$TEXT"
for c in config policy proxy key clock "model gemini-3.8-flash" "rest gemini-3.8-flash" "live upgrade" "live gemini-3.8-live" quota; do
  expect_match "check '$c' passed" "^$c	true	-$" "$ROWS"
done
expect_no_match "no ✗ or skipped line in the text report" "^(✗|–) " "$TEXT"
expect_match "every check line is ✓" "^✓ live upgrade +101 Switching Protocols" "$TEXT"
expect_match "the REST check shows its timing" "first after [0-9]+ ms, complete after [0-9]+ ms" "$TEXT"
expect_match "the Live check shows setup, the turn and resumption" "setup \(AUDIO \+ transcript\) ok in [0-9]+ ms; one turn .*resumption offered" "$TEXT"
expect_match "the clock is compared with the server's Date" "server Date .* GMT, local clock" "$TEXT"
expect_match "the last line sums up" "checks: 0 failed .*a default chat has what it needs" "$TEXT"
expect_match "the key is shown redacted" "API key \*\*\*" "$TEXT"
expect_no_secret

# ASCII: --plain, and a locale that is not UTF-8, and NO_COLOR
run env LANG=C LC_ALL=C "$GLRUN" doctor --timeout 5 --deadline 40
expect_eq "C locale: exit 0" "0" "$RC"
expect_eq "C locale: ASCII only" "" "$(printf '%s' "$OUT" | LC_ALL=C tr -d '\000-\177')"
expect_match "C locale: ok marks" "^ok   live upgrade" "$OUT"
run env LANG=C.UTF-8 "$GLRUN" doctor --plain --timeout 5 --deadline 40
expect_match "--plain: ASCII marks on a UTF-8 locale" "^ok   config" "$OUT"
run env LANG=C.UTF-8 NO_COLOR=1 "$GLRUN" doctor --timeout 5 --deadline 40
expect_match "NO_COLOR: ASCII marks" "^ok   config" "$OUT"

# --ephemeral: a token, then a Live session with it
doctor --ephemeral
expect_match "--ephemeral: a token opens a Live session" "^ephemeral token	true	-$" "$ROWS"
expect_no_secret

# under --mock too
run env LANG=C.UTF-8 "$GLRUN" --mock doctor --timeout 5 --deadline 40
expect_eq "glrun --mock doctor: exit 0" "0" "$RC"

# --help and usage errors
run "$GLRUN" doctor --help
expect_eq "--help: exit 0" "0" "$RC"
expect_match "--help describes --json" "--json" "$OUT"
run "$GLRUN" doctor --modality smell
expect_eq "a bad --modality: exit 2" "2" "$RC"
finish
