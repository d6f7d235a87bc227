# A changed policy works without a rebuild: --policy FILE, the XDG
# policy.lua, and clear errors for a broken policy file.
. "$(dirname "$0")/lib/sh.sh"
clean_env
POL="$SRC/examples/policies/rest_on_weekdays.lua"
EX="$SRC/examples/custom_policy.lua"

run "$GLRUN" --mock "$EX"
expect_eq "default policy: exit 0" 0 "$RC"
expect_match "default policy: the chat goes over Live" "over live" "$OUT"
expect_match "default policy: a 1008 (unknown model) gives way to the catalog's replacement" "answered over live" "$OUT"

run env GLRUN_WEEKDAY=3 "$GLRUN" --mock --policy "$POL" "$EX"
expect_eq "weekday policy: exit 0" 0 "$RC"
expect_match "weekday policy: straight to REST" "over rest gemini-3.8-flash" "$OUT"
expect_no_match "weekday policy: no Live attempt, no fallback" "fallback:" "$OUT"

run env GLRUN_WEEKDAY=1 "$GLRUN" --mock --policy "$POL" "$EX"
expect_match "weekend: Live" "over live" "$OUT"
expect_match "weekend: 1008 is reported, not hidden" "refused: .*1008.*does not fall back on 1008" "$OUT"

# the same file as $XDG_CONFIG_HOME/glrun/policy.lua
mkdir -p "$TMP/xdg/glrun" && cp "$POL" "$TMP/xdg/glrun/policy.lua"
run env XDG_CONFIG_HOME="$TMP/xdg" GLRUN_WEEKDAY=3 "$GLRUN" --mock "$EX"
expect_match "XDG policy.lua is used" "over rest gemini-3.8-flash" "$OUT"

# broken policy files: one clear line naming the file and the problem
printf 'return { classify = "nope" }\n' > "$TMP/bad1.lua"
run "$GLRUN" --mock --policy "$TMP/bad1.lua" "$EX"
expect_eq "bad policy: exit 1" 1 "$RC"
expect_match "bad policy: names the file and the function" "bad1.lua: the policy has no function 'classify'" "$ERR"
expect_no_match "bad policy: no traceback" "stack traceback" "$ERR"
printf 'return {\n' > "$TMP/bad2.lua"
run "$GLRUN" --mock --policy "$TMP/bad2.lua" "$EX"
expect_match "policy syntax error names the file" "bad2.lua:" "$ERR"
printf 'return 7\n' > "$TMP/bad3.lua"
run "$GLRUN" --mock --policy "$TMP/bad3.lua" "$EX"
expect_match "policy of the wrong shape" "bad3.lua must return a table" "$ERR"
finish
