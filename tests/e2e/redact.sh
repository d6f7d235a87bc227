# Secrets never appear in traces, logs or error messages; --trace records
# the wire (requests, responses, SSE chunks).
. "$(dirname "$0")/lib/sh.sh"
clean_env
start_glmock
SECRET="AIzaTESTsecretKEY-0123456789abcdef"
export GEMINI_API_KEY="$SECRET" GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL"
cat > "$TMP/s.lua" <<'L'
local http = require "glrun.http"
print(gemini.ask("hello trace"))
for p in assert(gemini.stream("stream me please")) do io.write(p) end print()
local _, e = gemini.ask("x", { model = "gemini-nonexistent" })
print("ERR1", e)
local key = os.getenv("GEMINI_API_KEY")
local _, e2 = http.request{ url = os.getenv("GLMOCK_URL") .. "/v1beta/nothing-here?key=" .. key }
print("ERR2", e2, e2 and e2.url)
local _, e3 = http.request{ url = "http://127.0.0.1:1/v1beta/models?key=" .. key }
print("ERR3", e3)
print("REDACT", gl.redact("x-goog-api-key: " .. key .. " and again " .. key))
gl.log("warn", "a log line with the key " .. key)
error("script failure mentioning " .. key)
L
run "$GLRUN" --log-level debug --trace "$TMP/trace.jsonl" "$TMP/s.lua"
TRACE=$(cat "$TMP/trace.jsonl")
expect_eq "the script fails as asked" 1 "$RC"
expect_match "the answer came through" "echo: hello trace" "$OUT"
expect_match "streamed answer" "echo: stream me please" "$OUT"
expect_no_match "no secret on stdout" "$SECRET" "$OUT"
expect_no_match "no secret on stderr" "$SECRET" "$ERR"
expect_no_match "no secret in the trace" "$SECRET" "$TRACE"
expect_match "error 1 reported" "ERR1.*HTTP 404" "$OUT"
expect_match "key= in URLs is redacted in errors" "ERR2.*key=\*\*\*" "$OUT"
expect_match "connect error redacted" "ERR3.*key=\*\*\*" "$OUT"
expect_match "gl.redact hides the key" "REDACT.*\*\*\*" "$OUT"
expect_match "the log line is there, redacted" "a log line with the key \*\*\*" "$ERR"
expect_match "the script error is there, redacted" "script failure mentioning \*\*\*" "$ERR"
run "$GLRUN" -e 'print(gl.redact("url?key=abc:def x")) print(gl.redact("(key=AIzaSy-abc_123) next"))'
expect_eq "a carrier's value ends at a byte no key holds, which is kept" "url?key=***:def x
(key=***) next" "$OUT"
expect_match "trace has requests" '"kind":"http_request"' "$TRACE"
expect_match "trace has responses" '"kind":"http_response".*"status":200' "$TRACE"
expect_match "trace has SSE chunks" '"kind":"http_chunk".*data: ' "$TRACE"
expect_match "trace redacts the key header" 'x-goog-api-key: \*\*\*' "$TRACE"
expect_match "trace records the request body" 'hello trace' "$TRACE"
# every trace line is JSON
if command -v node >/dev/null; then
  node -e 'const fs=require("fs");for(const l of fs.readFileSync(process.argv[1],"utf8").split("\n"))if(l)JSON.parse(l)' "$TMP/trace.jsonl" \
    && ok "every trace line parses as JSON" || bad "a trace line is not JSON"
fi
finish
