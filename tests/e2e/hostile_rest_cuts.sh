# Connections closed or stalled anywhere in a REST response: every cut is
# a one-line error saying what happened (never "No error", never a
# status-0 "success"); a stall mid-stream is a timeout (retried once by the
# policy, not three times); GLRUN_TIMEOUT is an idle timeout for unary
# requests as for streams, not a deadline for the whole answer.
. "$(dirname "$0")/lib/sh.sh"
command -v node >/dev/null || { echo "SKIPPED: node not installed (the hostile server needs it)"; exit 77; }

# every request is one line: N, ANSWERED|FAILED, kind, message
cat > "$TMP/cut.lua" <<'L'
local n, unary = tonumber(arg[1]), arg[2] == "unary"
for i = 1, n do
  local ok, err = pcall(function()
    if unary then
      local t, e = gemini.ask("hi", { timeout = 30 })
      if not t then error(e, 0) end
      return t
    end
    local out = {}
    for p in assert(gemini.stream("hi", { timeout = 30 })) do out[#out + 1] = p end
    return table.concat(out)
  end)
  local msg = ok and err or tostring(type(err) == "table" and err.message or err)
  print(i, ok and "ANSWERED" or "FAILED", ok and "-" or (type(err) == "table" and err.kind or "raised"),
        (msg:gsub("\n", "\\n")))
end
L

# --- a header block cut in half ------------------------------------------
start_hostile rest-cut-headers
cat > "$TMP/headers.lua" <<'L'
local t, e = gemini.ask("hi")
print("ASK", t, e and e.kind, e and e.status, e and e.message)
local http = require "glrun.http"
local res, he = http.request{ url = os.getenv("HOSTILE_URL") .. "/x" }
print("HTTP", res and res.status, he and he.kind, he and he.message)
local ok, se = pcall(function() for _ in assert(gemini.stream("hi")) do end end)
print("STREAM", ok, se.kind, se.message)
L
run "$GLRUN" "$TMP/headers.lua"
expect_match "cut headers: gemini.ask names the cut" "^ASK	nil	network	nil	.*connection was closed by the server inside the response headers" "$OUT"
expect_match "cut headers: http.request is no status-0 success" "^HTTP	nil	network	.*inside the response headers" "$OUT"
expect_match "cut headers: gemini.stream names the cut" "^STREAM	false	network	.*inside the response headers" "$OUT"
expect_no_match "cut headers: never 'No error'" "No error" "$OUT"
expect_no_match "cut headers: never malformed JSON" "malformed" "$OUT"
kill $BG_PIDS 2>/dev/null; BG_PIDS=

# --- a valid answer dribbled a byte at a time, cut at 20 offsets --------
# (offsets from the mode's own bytes: in the status line, the headers, at
# the end of the header block, in and between events; the last one, no
# cut, must answer)
read -r SSE_LEN SSE_HEAD UNARY_LEN UNARY_HEAD < <(node --input-type=module -e "
import { response } from '$SRC/tests/hostile/modes/rest-dribble.mjs';
const s = response('/x?alt=sse'), u = response('/x');
console.log(Buffer.byteLength(s), s.indexOf('\r\n\r\n') + 4, Buffer.byteLength(u), u.indexOf('\r\n\r\n') + 4);")
[ -n "$SSE_LEN" ] || { echo "not ok - cannot read the dribble mode's response"; exit 1; }
OFFS="0,1,5,9,17,30,$((SSE_HEAD - 2)),$((SSE_HEAD - 1)),$SSE_HEAD,$((SSE_HEAD + 1)),$((SSE_HEAD + 6))"
for k in 1 2 3 4 5 6 7 8; do OFFS="$OFFS,$((SSE_HEAD + 10 + (SSE_LEN - SSE_HEAD - 20) * k / 8))"; done
OFFS="$OFFS,$((SSE_LEN - 2)),-"
export HOSTILE_DRIBBLE_MS=1
start_hostile rest-dribble "$OFFS"
run "$GLRUN" "$TMP/cut.lua" 21
expect_eq "dribble: 21 requests ran" 21 "$(printf '%s\n' "$OUT" | grep -c .)"
expect_eq "dribble: each of the 20 cuts failed" 20 "$(printf '%s\n' "$OUT" | head -20 | grep -c '	FAILED	')"
expect_eq "dribble: the uncut answer arrived whole" "21	ANSWERED	-	one two three" "$(printf '%s\n' "$OUT" | sed -n 21p)"
expect_no_match "dribble: no cut says 'No error'" "No error" "$OUT"
expect_eq "dribble: every failure has a known kind" 20 \
  "$(printf '%s\n' "$OUT" | grep -cE '	FAILED	(network|stream_cut|protocol)	')"
expect_match "dribble: a cut in the headers says so" "FAILED	network	.*(inside the response headers|Empty reply)" "$OUT"
expect_match "dribble: a cut right after the headers is an empty answer" "FAILED	protocol	.*an empty answer" "$OUT"
expect_match "dribble: a cut inside an event says so" "FAILED	stream_cut	.*in the middle of an event" "$OUT"
kill $BG_PIDS 2>/dev/null; BG_PIDS=

# the same for generateContent (unary, with Content-Length)
UOFFS="0,9,17,40,$((UNARY_HEAD - 2)),$UNARY_HEAD,$((UNARY_HEAD + 1)),$(((UNARY_HEAD + UNARY_LEN) / 2)),$((UNARY_LEN - 1)),-"
start_hostile rest-dribble "$UOFFS"
run "$GLRUN" "$TMP/cut.lua" 10 unary
expect_eq "unary dribble: each of the 9 cuts failed" 9 "$(printf '%s\n' "$OUT" | head -9 | grep -c '	FAILED	network	')"
expect_eq "unary dribble: the uncut answer arrived" "10	ANSWERED	-	one two three" "$(printf '%s\n' "$OUT" | sed -n 10p)"
expect_no_match "unary dribble: no 'No error', no malformed JSON" "No error|malformed" "$OUT"
kill $BG_PIDS 2>/dev/null; BG_PIDS=

# --- GLRUN_TIMEOUT is idle time, for unary requests too --------------------
# an answer that takes several seconds, a byte every ~10 ms, with a
# 1-second GLRUN_TIMEOUT: it arrives (a total deadline would cut it)
HOSTILE_DRIBBLE_MS=10 start_hostile rest-dribble
cat > "$TMP/slow.lua" <<'L'
local t0 = gl.now()
local t, e = gemini.ask("hi")
print("UNARY", t, e and e.kind, e and e.message)
print("TOOK_OVER_TIMEOUT", gl.now() - t0 > 1.5)
L
run env GLRUN_TIMEOUT=1 "$GLRUN" "$TMP/slow.lua"
expect_match "GLRUN_TIMEOUT=1: a slow unary answer with bytes flowing arrives" "^UNARY	one two three	nil" "$OUT"
expect_match "GLRUN_TIMEOUT=1: it took longer than the timeout (idle, not total)" "TOOK_OVER_TIMEOUT	true" "$OUT"
kill $BG_PIDS 2>/dev/null; BG_PIDS=

# --- a stall mid-stream: kind timeout, retried once ----------------------
start_hostile rest-sse-stall
cat > "$TMP/stall.lua" <<'L'
local ok, e = pcall(function() for _ in assert(gemini.stream("hi", { timeout = 1 })) do end end)
print("STREAM", ok, e.kind, e.partial, e.message)
local t, ue = gemini.ask("hi", { timeout = 1 })
print("UNARY", t, ue.kind, ue.message)
L
run "$GLRUN" "$TMP/stall.lua"
expect_match "stall mid-stream: kind timeout, with the text so far" "^STREAM	false	timeout	stalled 	.*stalled: the server sent nothing for 1 s \(after 1 event" "$OUT"
expect_match "stall in a unary body: kind timeout" "^UNARY	nil	timeout	.*sent nothing for 1 s in the middle of the response" "$OUT"
expect_no_match "stall: never 'No error'" "No error" "$OUT"
cat > "$TMP/onemodel.lua" <<'L'
return { chain = { live = {}, rest = { "gemini-2.5-flash" } }, backoff_base = 0.05, backoff_cap = 0.1 }
L
run env GLRUN_TIMEOUT=1 "$GLRUN" --policy "$TMP/onemodel.lua" ask "hi"
expect_eq "stall: glrun ask exits 1" 1 "$RC"
expect_eq "stall: two attempts (one retry), not four" 2 "$(grep -c '^glrun: answer cut short' <<<"$ERR")"
expect_match "stall: the last line says no answer came in time" "^glrun ask: .*no answer in time" "$(printf '%s\n' "$ERR" | tail -1)"
finish
