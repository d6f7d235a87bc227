# A key or token is never sent in clear text to a host that is not this
# machine: a plain-text base URL (http://, ws://, no scheme) is a
# configuration error before any connection is tried, unless its host is
# loopback or named in GLRUN_ALLOW_PLAINTEXT_HOSTS.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/secrets.sh"
# a proxy that logs what reaches it: a refused base URL must not reach it
start_hostile echo-key
PROXY=$HOSTILE_URL
KEY=$HOSTILE_KEY
unset GOOGLE_GEMINI_BASE_URL NO_PROXY no_proxy
export GEMINI_API_KEY=$KEY
RULE="sent in clear text to example\.invalid.*GLRUN_ALLOW_PLAINTEXT_HOSTS"

run env GOOGLE_GEMINI_BASE_URL=http://example.invalid http_proxy="$PROXY" "$GLRUN" ask "hello"
expect_eq "http:// to a remote host: glrun ask exits 1" 1 "$RC"
expect_match "glrun ask says why, naming the variable and the way out" "^glrun ask: .*GOOGLE_GEMINI_BASE_URL is http://example\.invalid: .*$RULE" "$ERR"
expect_eq "glrun ask prints one line" 1 "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')"
run env GOOGLE_GEMINI_BASE_URL=http://example.invalid http_proxy="$PROXY" "$GLRUN" ask --transport live "hello"
expect_eq "the same for Live (ws://)" 1 "$RC"
expect_match "Live: the same line" "$RULE" "$ERR"
run env GOOGLE_GEMINI_BASE_URL=http://example.invalid http_proxy="$PROXY" "$GLRUN" -e 'print(assert(gemini.ask("hi")))'
expect_eq "a script: the configuration error ends it" 1 "$RC"
expect_match "a script: one line, kind config" "^glrun: config: .*$RULE" "$ERR"
expect_eq "nothing reached the network (the logging proxy saw no request)" 0 \
  "$(cat "$HOSTILE_LOG" 2>/dev/null | wc -l | tr -d ' ')"

cat >"$TMP/resolve.lua" <<'L'
local config = require "gemini.config"
local function try(label, opts)
  local c, err = config.resolve(opts)
  if c then print(label, "OK", c.base_url)
  else print(label, "ERR", err.kind, err.brief, err.message) end
end
try("env")
try("option", { base_url = "http://example.invalid" })
try("ws", { base_url = "ws://example.invalid" })
try("noscheme", { base_url = "example.invalid" })
try("upper", { base_url = "HTTP://Example.Invalid:8080/p" })
try("userinfo", { base_url = "http://127.0.0.1@example.invalid" })
try("https", { base_url = "https://example.invalid" })
try("lo4", { base_url = "http://127.0.0.9:1" })
try("lo6", { base_url = "http://[::1]:1" })
try("localhost", { base_url = "http://localhost:1" })
local t, err = gemini.ask("hi")
print("ask", t, type(err) == "table" and err.kind)
L
run env GOOGLE_GEMINI_BASE_URL=http://example.invalid "$GLRUN" "$TMP/resolve.lua"
expect_match "resolve: nil, err of kind config (brief)" "^env	ERR	config	true	GOOGLE_GEMINI_BASE_URL is http://example.invalid" "$OUT"
expect_match "resolve: an option base_url" "^option	ERR	config	true	option base_url is" "$OUT"
expect_match "resolve: ws://" "^ws	ERR	config" "$OUT"
expect_match "resolve: no scheme (curl would use http)" "^noscheme	ERR	config" "$OUT"
expect_match "resolve: upper-case scheme and host" "^upper	ERR	config.*to example\.invalid" "$OUT"
expect_match "resolve: the host after the user info counts" "^userinfo	ERR	config.*to example\.invalid" "$OUT"
expect_match "resolve: https:// is fine" "^https	OK" "$OUT"
expect_match "resolve: 127.0.0.0/8 is loopback" "^lo4	OK" "$OUT"
expect_match "resolve: ::1 is loopback" "^lo6	OK" "$OUT"
expect_match "resolve: localhost is loopback" "^localhost	OK" "$OUT"
expect_match "gemini.ask returns the configuration error" "^ask	nil	config" "$OUT"

# Vertex AI: an access token and an express-mode key follow the same rule
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p GOOGLE_OAUTH_ACCESS_TOKEN=ya29.plaintext-token-0123456789 \
  GOOGLE_VERTEX_BASE_URL=http://example.invalid "$GLRUN" --explain-config
expect_eq "Vertex AI (token): refused" 1 "$RC"
expect_match "Vertex AI (token): the line says token" "GOOGLE_VERTEX_BASE_URL is http://example\.invalid: the access token would be $RULE" "$ERR"
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_VERTEX_BASE_URL=http://example.invalid "$GLRUN" --explain-config
expect_eq "Vertex AI (express key): refused" 1 "$RC"
expect_match "Vertex AI (express key): the line says key" "the API key would be $RULE" "$ERR"

# the allow-list: the request goes ahead (and fails to resolve the name)
export GLRUN_ALLOW_PLAINTEXT_HOSTS="other.example, Example.Invalid"
run env GOOGLE_GEMINI_BASE_URL=http://example.invalid "$GLRUN" -e \
  'local t, e = gemini.ask("hi", { model = "gemini-2.5-flash" }) print("KIND", e and e.kind)'
expect_eq "allowed host: the script runs" 0 "$RC"
expect_match "allowed host: the request was tried and the name did not resolve" "KIND	dns" "$OUT"
run env GOOGLE_GEMINI_BASE_URL=http://example.invalid http_proxy="$PROXY" "$GLRUN" -e 'print(select(2, gemini.ask("hi")))'
expect_match "allowed host: through the logging proxy, the request went out" "GET|POST" "$(cat "$HOSTILE_LOG" 2>/dev/null)"
unset GLRUN_ALLOW_PLAINTEXT_HOSTS

# --mock and loopback base URLs keep working
run "$GLRUN" --mock ask "hello"
expect_eq "--mock works" 0 "$RC"
expect_match "--mock answers" "echo: hello" "$OUT"
finish
