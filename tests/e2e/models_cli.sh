# glrun models against glmock: the catalog as a table (methods, token
# limits, Live modalities and text rule, aliases), --live, --json, --help;
# the cache file it writes, used when the server is gone (the same base URL,
# now a dead port), kept when a refresh fails (said once at debug level),
# --refresh failing with exit 1, the built-in list without cache or network.
. "$(dirname "$0")/lib/sh.sh"
start_glmock
clean_env
export XDG_CACHE_HOME="$TMP/cache" GEMINI_API_KEY=models-cli-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL"

run "$GLRUN" models
expect_eq "glrun models exits 0" 0 "$RC"
expect_match "header" "^MODEL +METHODS +IN +OUT +LIVE / ALIAS" "$(printf '%s\n' "$OUT" | head -1)"
expect_match "gemini-3.8-flash: methods and token limits" "^gemini-3\.8-flash +gen,count,batch,cache +1048576 +65536$" "$OUT"
expect_match "gemini-4-argon listed" "^gemini-4-argon +gen,count,batch,cache +1048576 +65536$" "$OUT"
expect_match "an alias says what it stands for" "^gemini-pro-latest .* alias of gemini-4-argon$" "$OUT"
expect_match "a 3.x Live model: audio, text as realtimeInput" "^gemini-3\.8-live +count,live +131072 +65536 +audio; text as realtimeInput\.text, clientContent seeds history only$" "$OUT"
expect_match "a 2.5 Live model: text as clientContent" "^gemini-2\.5-flash-native-audio-preview-12-2025 +count,live +131072 +8192 +audio; text as clientContent$" "$OUT"
expect_match "glmock's text twin" "^gemini-3-live-text-test .* text\+audio; text as realtimeInput" "$OUT"
expect_match "the embedding model" "^gemini-embedding-001 +count,embed +2048 +1$" "$OUT"
expect_match "source on stderr: models.list, cache file" "^[0-9]+ models from models\.list, just now, cached in $TMP/cache/glrun/models-gemini-[0-9a-f]+\.json$" "$ERR"
CACHE=$(ls "$TMP"/cache/glrun/models-gemini-*.json 2>/dev/null)
expect_eq "one cache file written" 1 "$(printf '%s\n' "$CACHE" | grep -c json)"
expect_eq "the cache folder is private" 700 "$(stat -c %a "$TMP/cache/glrun")"
expect_eq "no temporary file left" "" "$(ls "$TMP/cache/glrun" | grep -v '\.json$')"
NALL=$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)

run "$GLRUN" models --live
expect_eq "--live exits 0" 0 "$RC"
expect_eq "--live: the 7 Live models of glmock" 7 "$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)"
expect_eq "--live: every row serves bidiGenerateContent" "" "$(printf '%s\n' "$OUT" | tail -n +2 | grep -v ' count,live \| live ')"

run "$GLRUN" models --json --live
expect_eq "--json exits 0" 0 "$RC"
printf '%s\n' "$OUT" >"$TMP/models.json"
run "$GLRUN" -e '
  local j = require("glrun.json").decode_strict(io.open(arg[1]):read("a"))
  local n, three = 0, nil
  for _, m in ipairs(j.models) do
    n = n + 1
    if m.id == "gemini-3.8-live" then three = m end
  end
  print(j.source, n, three.live.text_input, three.live.client_content, tostring(three.live.history_seed),
        table.concat(three.live.modalities, "+"), math.tointeger(three.inputTokenLimit))' - "$TMP/models.json"
expect_eq "--json: source, count, 3.x Live capabilities, limits" "cache	7	realtime_input	initial_only	true	audio	131072" "$OUT"

run "$GLRUN" models --help
expect_eq "--help exits 0" 0 "$RC"
expect_match "--help: usage" "^usage: glrun models \[--live\] \[--json\] \[--refresh\]" "$OUT"
run "$GLRUN" models --colour
expect_eq "an unknown option is a usage error" 2 "$RC"

# glmock goes away: the same base URL is now a dead port
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=
run "$GLRUN" models
expect_eq "offline: still exits 0" 0 "$RC"
expect_eq "offline: the same models, from the cache" "$NALL" "$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)"
expect_match "offline: says it is the cache" "models from the cache $TMP/cache/glrun/models-gemini-[0-9a-f]+\.json \([0-9]+ s old\)$" "$ERR"

GLRUN_CATALOG_TTL=0 run "$GLRUN" --log-level debug models
expect_eq "stale cache, dead server: exits 0" 0 "$RC"
expect_eq "stale cache: still the cached models" "$NALL" "$(printf '%s\n' "$OUT" | tail -n +2 | wc -l)"
expect_eq "the failed background refresh is said once at debug level" 1 "$(printf '%s\n' "$ERR" | grep -c 'refresh failed; keeping the cached list')"
expect_match "stale: marked as refreshing" "old, refreshing\)$" "$ERR"
expect_eq "the cache file is kept" "$CACHE" "$(ls "$TMP"/cache/glrun/models-gemini-*.json)"

run "$GLRUN" models --refresh
expect_eq "--refresh against a dead server exits 1" 1 "$RC"
expect_match "--refresh: the reason" "^glrun models: models\.list failed: .*127\.0\.0\.1" "$ERR"

XDG_CACHE_HOME="$TMP/empty" run "$GLRUN" models
expect_eq "no cache, no server: exits 0" 0 "$RC"
expect_match "no cache, no server: the built-in list" "models from glrun's built-in list \(connect: " "$ERR"
expect_match "the built-in list has the late-2026 models" "^gemini-3\.8-flash .*1048576" "$OUT"
expect_eq "nothing cached from the built-in list" "" "$(ls "$TMP/empty/glrun" 2>/dev/null)"

# --mock keeps the catalog in memory: glmock's port changes every run
clean_env
XDG_CACHE_HOME="$TMP/mockcache" run "$GLRUN" --mock models --live
expect_eq "--mock models exits 0" 0 "$RC"
expect_match "--mock models lists glmock's Live models" "^gemini-live-text-test " "$OUT"
expect_eq "--mock writes no cache file" "" "$(ls "$TMP/mockcache/glrun" 2>/dev/null)"
finish
