# --trace and --record redact what comes over the network as one stream,
# before anything is encoded or cut: a key split between two reads, a key
# next to bytes that are not UTF-8 (stored as base64), a key across the
# 4 KiB cut of a WebSocket trace line, a key across the length limit of an
# error message or a log line: none leaves a piece of itself.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/secrets.sh"
command -v node >/dev/null || { echo "SKIPPED: node not installed"; exit 77; }

# b64_bytes CASSETTE_DIR OUT: the bytes of every "b64" event, decoded
b64_bytes() {
  node -e 'const fs=require("fs"),p=require("path");let out=[];
    for(const f of fs.readdirSync(process.argv[1])){const c=JSON.parse(fs.readFileSync(p.join(process.argv[1],f),"utf8"));
      for(const e of c.events||[]) if(e.b64) out.push(Buffer.from(e.b64,"base64"));
      if(c.request&&c.request.b64) out.push(Buffer.from(c.request.b64,"base64"));}
    fs.writeFileSync(process.argv[2],Buffer.concat(out));console.log(out.length)' "$1" "$2"
}
cat >"$TMP/stream.lua" <<'L'
local text = {}
for piece in assert(gemini.stream("hi")) do text[#text + 1] = piece end
io.open(arg[1], "w"):write(table.concat(text)):close()
print("LEN", #table.concat(text))
L

# 1. the key split between two TCP writes, 300 ms apart
start_hostile secret-split 300
KEY=$HOSTILE_KEY
run "$GLRUN" --trace "$TMP/split.trace" --record "$TMP/split.rec" "$TMP/stream.lua" "$TMP/split.answer"
expect_eq "split: the stream is read" 0 "$RC"
expect_match "split: the answer holds the key (the server sent it)" "the key is $KEY" "$(cat "$TMP/split.answer")"
expect_eq "split: the body came in two reads or more" yes \
  "$([ "$(grep -c '"kind":"http_chunk"' "$TMP/split.trace")" -ge 2 ] && echo yes || echo no)"
expect_no_key "split: no piece of the key in the trace" "$KEY" "$TMP/split.trace"
expect_no_key "split: no piece of the key in the cassette" "$KEY" "$TMP/split.rec"
expect_match "split: the trace holds the redacted answer" 'the key is \*\*\*, said twice: \*\*\*' "$(cat "$TMP/split.trace")"
node -e 'const fs=require("fs");for(const l of fs.readFileSync(process.argv[1],"utf8").split("\n"))if(l)JSON.parse(l)' "$TMP/split.trace" \
  && ok "split: every trace line is JSON" || bad "split: a trace line is not JSON"
# the cassette still replays: the same stream, the key as ***, two events
unset GEMINI_API_KEY
run "$GLRUN" --replay "$TMP/split.rec" "$TMP/stream.lua" "$TMP/replay.answer"
expect_eq "split: the cassette replays" 0 "$RC"
expect_match "split: the replayed answer is the redacted one" '^the key is \*\*\*, said twice: \*\*\*\.$' "$(cat "$TMP/replay.answer")"
expect_eq "split: the cassette keeps the two reads" 2 "$(grep -o '"dir":"recv"' "$TMP"/split.rec/*-http.json | wc -l | tr -d ' ')"

# 2. the key next to bytes that are not UTF-8 (read as raw chunks: they
# are not valid JSON text)
start_hostile secret-binary
cat >"$TMP/raw.lua" <<'L'
local http = require "glrun.http"
local out = io.open(arg[1], "wb")
for chunk in assert(http.stream{ url = os.getenv("HOSTILE_URL") .. "/v1beta/x:streamGenerateContent?alt=sse",
                                 body = "{}", headers = { ["x-goog-api-key"] = os.getenv("GEMINI_API_KEY") } }) do
  out:write(chunk)
end
out:close()
L
run "$GLRUN" --trace "$TMP/bin.trace" --record "$TMP/bin.rec" "$TMP/raw.lua" "$TMP/bin.answer"
expect_eq "binary: the stream is read" 0 "$RC"
expect_match "binary: the body holds the key (the server sent it)" "$KEY" "$(tr -c '[:print:]' '?' <"$TMP/bin.answer")"
run "$GLRUN" --trace "$TMP/bin2.trace" "$TMP/stream.lua" "$TMP/bin2.answer"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/bin2.txt"
expect_no_key "binary: through gemini.stream, no piece of the key printed" "$KEY" "$TMP/bin2.txt"
expect_no_key "binary: through gemini.stream, no piece of the key in the trace" "$KEY" "$TMP/bin2.trace"
expect_match "binary: the cassette stores the chunk as base64" '"b64":' "$(cat "$TMP"/bin.rec/*)"
n=$(b64_bytes "$TMP/bin.rec" "$TMP/bin.bytes")
expect_eq "binary: one base64 event" 1 "$n"
expect_match "binary: the base64 bytes hold the redacted answer" 'bin .*\*\*\*.* end' "$(tr -c '[:print:]' '?' <"$TMP/bin.bytes")"
expect_no_key "binary: no piece of the key inside the base64" "$KEY" "$TMP/bin.bytes"
expect_no_key "binary: no piece of the key in the cassette" "$KEY" "$TMP/bin.rec"
expect_no_key "binary: no piece of the key in the trace" "$KEY" "$TMP/bin.trace"

# 3. a WebSocket message over 4 KiB with the key across the trace line's cut
start_glmock
export GEMINI_API_KEY=$KEY
cat >"$TMP/ws.lua" <<'L'
local ws = require "glrun.ws"
local key = os.getenv("GEMINI_API_KEY")
local msg = ("a"):rep(4096 - 30) .. key .. ("b"):rep(1000)
local c = assert(ws.connect{ url = os.getenv("GLMOCK_URL"):gsub("^http", "ws") .. "/glmock/echo", timeout = 20 })
assert(c:send(msg))
local back = assert(c:recv(20))
print("ECHO", back == msg)
c:close()
L
run "$GLRUN" --trace "$TMP/ws.trace" --record "$TMP/ws.rec" "$TMP/ws.lua"
expect_match "ws: the long message is echoed" "ECHO	true" "$OUT"
expect_match "ws: the trace line is cut" '"kind":"ws_send".*"truncated":true' "$(cat "$TMP/ws.trace")"
expect_match "ws: the key is redacted before the cut" '"kind":"ws_recv".*a\*\*\*b' "$(cat "$TMP/ws.trace")"
expect_no_key "ws: no piece of the key in the trace" "$KEY" "$TMP/ws.trace"
expect_no_key "ws: no piece of the key in the cassette" "$KEY" "$TMP/ws.rec"

# 4. an error message and a log line with the key across their length limit
cat >"$TMP/cut.lua" <<'L'
local key = os.getenv("GEMINI_API_KEY")
local e = gl.error("protocol", ("a"):rep(4080) .. key .. " tail")
print("MSG", e.message:sub(4070))
gl.log("warn", ("a"):rep(2030) .. key .. " tail")
L
run "$GLRUN" "$TMP/cut.lua"
expect_match "a long error message is redacted before it is cut" 'MSG	a+\*\*\* tail' "$OUT"
expect_match "a long log line is redacted before it is cut" 'a\*\*\* tail' "$ERR"
printf '%s\n%s' "$OUT" "$ERR" >"$TMP/cut.txt"
expect_no_key "long messages: no piece of the key" "$KEY" "$TMP/cut.txt"
finish
