# glrun serve: a client that goes away makes the gateway close its upstream
# request at once — the server wakes the handler's req:wait_closed(), no
# task polls — on every REST route that waits on the upstream: a unary
# generateContent the upstream never answers (logged 499, counted), a
# stream whose upstream went silent after its first event (status 200,
# counted), the chat page's turn (counted), and a generateContent the
# policy answers Live first (499, counted). The upstream is the hostile
# server's gw-stall-watch mode, which logs when the gateway lets go of a
# connection. The gateway's idle timeout is 300 s, so an upstream closed
# within the 60 s these checks allow was closed because the client left.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
J='Content-Type: application/json'
BODY='{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'

# poll FILE for an extended regex, up to SECONDS
seen_within() {
  local n=$(( $3 * 20 ))
  for _ in $(seq 1 "$n"); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
# the gateway's glrun_serve_cancelled_total (0 when not counted yet)
cancelled_count() {
  local v
  v=$(curl -s --max-time 10 "$GW_URL/metrics" | sed -n 's/^glrun_serve_cancelled_total \([0-9]*\).*/\1/p')
  echo "${v:-0}"
}
# wait until glrun_serve_cancelled_total reaches N (60 s at most)
cancelled_reaches() {
  for _ in $(seq 1 600); do
    [ "$(cancelled_count)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
# leave PID: the client goes away (curl killed), and is reaped
leave() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

start_hostile gw-stall-watch
GLRUN_TIMEOUT=300 GW_UPSTREAM=$HOSTILE_URL start_gateway --retry-wait 0
U=$GW_URL/v1beta/models/gemini-2.5-flash
expect_eq "no cancel counted at first" 0 "$(cancelled_count)"

# 1. unary generateContent: the client leaves once its request reached the
#    upstream, which never answers
curl -s -m 600 -H "$J" -d "$BODY" "$U:generateContent" >/dev/null 2>&1 &
C=$!
if seen_within "$HOSTILE_LOG" '"path":"[^"]*:generateContent' 60; then ok "unary: the request reached the upstream"
else bad "unary: the request never reached the upstream"; fi
leave "$C"
if seen_within "$HOSTILE_LOG" '"closed":"[^"]*:generateContent' 60; then
  ok "unary: the client left, the gateway closed its upstream request ($(grep -o '"closed":"[^"]*:generateContent[^"]*","after_ms":[0-9]*' "$HOSTILE_LOG" | sed 's/.*after_ms"://') ms after it was sent)"
else
  bad "unary: the upstream request was not closed after the client left"
fi
if seen_within "$TMP/gw.err" 'POST /v1beta/models/gemini-2.5-flash:generateContent .*status=499' 60; then
  ok "unary: logged as 499"
else
  bad "unary: no 499 in the access log: $(grep generateContent "$TMP/gw.err" | tail -2)"
fi
if cancelled_reaches 1; then ok "unary: counted in glrun_serve_cancelled_total"
else bad "unary: glrun_serve_cancelled_total is $(cancelled_count), not 1"; fi

# 2. streamGenerateContent: the first event reaches the client, then the
#    upstream goes silent; the client leaves
curl -s -N -m 600 -H "$J" -d "$BODY" "$U:streamGenerateContent?alt=sse" >"$TMP/stream.body" 2>/dev/null &
C=$!
if seen_within "$TMP/stream.body" 'stalled' 60; then ok "stream: the first event reached the client"
else bad "stream: the first event never came"; fi
leave "$C"
if seen_within "$HOSTILE_LOG" '"closed":"[^"]*:streamGenerateContent' 60; then
  ok "stream: the client left mid-stream, the gateway closed the silent upstream stream"
else
  bad "stream: the upstream stream was not closed after the client left"
fi
if seen_within "$TMP/gw.err" 'POST /v1beta/models/gemini-2.5-flash:streamGenerateContent .*status=200' 60; then
  ok "stream: logged with the status sent (200)"
else
  bad "stream: no access log line: $(grep streamGenerateContent "$TMP/gw.err" | tail -2)"
fi
if cancelled_reaches 2; then ok "stream: counted in glrun_serve_cancelled_total"
else bad "stream: glrun_serve_cancelled_total is $(cancelled_count), not 2"; fi

# 3. the chat page's turn (Live refused: REST, which stalls after its first
#    text); the page's Stop is the client going away
curl -s -N -m 600 -H "$J" -d '{"messages":[{"role":"user","text":"hi page"}]}' "$GW_URL/api/chat" \
  >"$TMP/chat.body" 2>/dev/null &
C=$!
if [ -f "$SRC/lua/gemini/gateway_chat.lua" ]; then
  if seen_within "$TMP/chat.body" 'stalled' 60; then ok "chat: the first text reached the page"
  else bad "chat: no text came: $(head -c 300 "$TMP/chat.body")"; fi
  before=$(grep -c '"closed":"[^"]*streamGenerateContent' "$HOSTILE_LOG")
  leave "$C"
  for _ in $(seq 1 1200); do
    [ "$(grep -c '"closed":"[^"]*streamGenerateContent' "$HOSTILE_LOG")" -gt "$before" ] && break
    sleep 0.05
  done
  if [ "$(grep -c '"closed":"[^"]*streamGenerateContent' "$HOSTILE_LOG")" -gt "$before" ]; then
    ok "chat: the page left, the turn's upstream stream was closed"
  else
    bad "chat: the turn's upstream stream was not closed after the page left"
  fi
  if cancelled_reaches 3; then ok "chat: counted in glrun_serve_cancelled_total"
  else bad "chat: glrun_serve_cancelled_total is $(cancelled_count), not 3"; fi
else
  leave "$C"
fi

stop_gateway

# 4. a model the policy serves Live first, asked with generateContent: Live
#    is refused (404), REST answers one piece and stalls; the client leaves
cat >"$TMP/policy.lua" <<'EOF'
return { chain = { live = { "gemini-2.5-flash" }, rest = { "gemini-2.5-flash" } }, backoff_base = 0.05 }
EOF
GLRUN_TIMEOUT=300 GW_UPSTREAM=$HOSTILE_URL GW_GLRUN_OPTS="--policy $TMP/policy.lua" start_gateway --retry-wait 0
U=$GW_URL/v1beta/models/gemini-2.5-flash
before=$(grep -c '"closed":' "$HOSTILE_LOG")
sent=$(grep -c '"path":"[^"]*streamGenerateContent' "$HOSTILE_LOG")
curl -s -m 600 -H "$J" -d "$BODY" "$U:generateContent" >/dev/null 2>&1 &
C=$!
# the turn's REST request reached the upstream (after the refused Live attempt)
for _ in $(seq 1 1200); do
  [ "$(grep -c '"path":"[^"]*streamGenerateContent' "$HOSTILE_LOG")" -gt "$sent" ] && break
  sleep 0.05
done
leave "$C"
for _ in $(seq 1 1200); do
  [ "$(grep -c '"closed":' "$HOSTILE_LOG")" -gt "$before" ] && break
  sleep 0.05
done
if [ "$(grep -c '"closed":' "$HOSTILE_LOG")" -gt "$before" ]; then
  ok "Live first: the client left, the turn's upstream request was closed"
else
  bad "Live first: the turn's upstream request was not closed after the client left"
fi
if seen_within "$TMP/gw.err" 'POST /v1beta/models/gemini-2.5-flash:generateContent .*status=499' 60; then
  ok "Live first: logged as 499"
else
  bad "Live first: no 499 in the access log: $(grep generateContent "$TMP/gw.err" | tail -2)"
fi
if cancelled_reaches 1; then ok "Live first: counted in glrun_serve_cancelled_total"
else bad "Live first: glrun_serve_cancelled_total is $(cancelled_count), not 1"; fi
stop_gateway
finish
