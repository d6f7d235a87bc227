# The keys and tokens in the environment are secrets from the first
# instruction on: a script that fails before gemini.config ever ran (or
# never runs it) still prints no key. --explain-config shows none either.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/secrets.sh"
clean_env
K1="AIzaSySTARTUP-key-one-0123456789abcdefgh"
K2="AIzaSySTARTUP-key-two-0123456789abcdefgh"
T1="ya29.STARTUP-oauth-token-0123456789abcdef"
T2="ya29.STARTUP-glrun-token-0123456789abcdef"
PW="proxy-pass-STARTUP-0123456789"

for v in GEMINI_API_KEY GOOGLE_API_KEY GOOGLE_OAUTH_ACCESS_TOKEN GLRUN_ACCESS_TOKEN; do
  case $v in GEMINI_API_KEY) s=$K1 ;; GOOGLE_API_KEY) s=$K2 ;; GOOGLE_OAUTH_ACCESS_TOKEN) s=$T1 ;; *) s=$T2 ;; esac
  run env "$v=$s" "$GLRUN" -e "error(os.getenv('$v'))"
  expect_eq "$v: the script fails" 1 "$RC"
  expect_match "$v: the error is printed, redacted" "\*\*\*" "$ERR"
  printf '%s\n%s' "$OUT" "$ERR" >"$TMP/out.$v"
  expect_no_key "$v: an early error prints no key" "$s" "$TMP/out.$v"
done

# the value as the configuration reads it (surrounding blanks trimmed)
run env GEMINI_API_KEY="  $K1 " "$GLRUN" -e 'error("key: " .. os.getenv("GEMINI_API_KEY"):match("^%s*(.-)%s*$"))'
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/out.trim"
expect_match "a key with blanks around it: redacted" "key: \*\*\*" "$ERR"
expect_no_key "a key with blanks around it: not printed" "$K1" "$TMP/out.trim"

# a log line, a task nobody joined, an error object: all before any config
cat >"$TMP/early.lua" <<'L'
local k = os.getenv("GEMINI_API_KEY")
gl.log("warn", "early log " .. k)
gl.spawn(function() error("unjoined task " .. k) end)
gl.sleep(0)
local e = gl.error("config", "early error " .. k, { detail = k })
io.stderr:write(tostring(e), " ", e.detail, "\n")
L
run env GEMINI_API_KEY="$K1" "$GLRUN" "$TMP/early.lua"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/out.early"
expect_match "the early log line is there" "early log \*\*\*" "$ERR"
expect_match "the unjoined task is reported" "unjoined task \*\*\*" "$ERR"
expect_match "an error object's fields are redacted" "early error \*\*\* \*\*\*" "$ERR"
expect_no_key "early log, task, error: no key" "$K1" "$TMP/out.early"

# the password of a proxy URL
run env HTTPS_PROXY="http://user:$PW@127.0.0.1:9" "$GLRUN" -e 'error(os.getenv("HTTPS_PROXY"))'
expect_match "a proxy URL is printed without its password" "user:\*\*\*@127.0.0.1:9" "$ERR"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/out.proxy"
expect_no_key "a proxy password is not printed" "$PW" "$TMP/out.proxy"

# --explain-config, Gemini API and Vertex AI with a ready token
run env GEMINI_API_KEY="$K1" "$GLRUN" --explain-config
expect_eq "--explain-config runs" 0 "$RC"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/out.explain"
expect_no_key "--explain-config shows no key" "$K1" "$TMP/out.explain"
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p GOOGLE_OAUTH_ACCESS_TOKEN="$T1" GEMINI_API_KEY="$K1" \
  "$GLRUN" --explain-config
expect_eq "--explain-config (Vertex AI) runs" 0 "$RC"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/out.explain2"
expect_no_key "--explain-config (Vertex AI) shows no token" "$T1" "$TMP/out.explain2"
expect_no_key "--explain-config (Vertex AI) shows no ignored key" "$K1" "$TMP/out.explain2"
finish
