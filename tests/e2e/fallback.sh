# examples/fallback.lua: the original situation in its two real forms; in
# each case one precise reason line, then the answer: over REST for the
# proxy, over the catalog's replacement Live model for the one that does
# not exist.
. "$(dirname "$0")/lib/sh.sh"
clean_env
run "$GLRUN" --mock "$SRC/examples/fallback.lua"
expect_eq "fallback example exits 0" 0 "$RC"
expect_eq "the proxy case streamed over REST" 1 "$(printf '%s\n' "$OUT" | grep -c '^(answered over rest gemini-3.8-flash)$')"
expect_eq "the unknown model's case over its replacement" 1 "$(printf '%s\n' "$OUT" | grep -c '^(answered over live gemini-3.8-live)$')"
expect_eq "both answers are whole" 2 "$(printf '%s\n' "$OUT" | grep -c '^echo: What is a WebSocket?$')"
LINES=$(printf '%s\n' "$ERR" | grep -v -- '--mock')
expect_eq "exactly one reason line per case" 2 "$(printf '%s\n' "$LINES" | grep -c .)"
L1=$(printf '%s\n' "$LINES" | sed -n 1p); L2=$(printf '%s\n' "$LINES" | sed -n 2p)
expect_match "404: names the model and endpoint" "Live gemini-3.8-live at ws://127.0.0.1:[0-9]+/proxy/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent" "$L1"
expect_match "404: the likely cause" "path is wrong or a proxy in between" "$L1"
expect_match "404: not blamed on Vertex" "does not need Vertex AI" "$L1"
expect_match "404: what happens instead" "falling back to REST gemini-3.8-flash" "$L1"
expect_match "1008: names the model" "Live gemini-2.5-flash-live" "$L2"
expect_match "1008: the server's reason" "1008 \(models/gemini-2.5-flash-live is not found for API version v1beta" "$L2"
expect_match "1008: the likely cause" "unknown, retired, or not offered for Live" "$L2"
expect_match "1008: what happens instead: the replacement, named" "falling back to Live gemini-3.8-live \(its replacement in the model catalog\)" "$L2"
expect_no_match "the key never appears" "mock-key" "$ERR"
finish
