-- glrun serve — a Gemini-compatible gateway: the browser chat page, the
-- Gemini REST and Live endpoints for the official SDKs, and ephemeral
-- tokens, with the API key, the policy and the retries on this side
-- (docs/serve.md). The flow is here; the routes are gemini.gateway_*;
-- the sockets are the C module glrun.server.
local cli = require "glrun.cli"
local core = require "glrun.core"
local gateway = require "gemini.gateway"

local USAGE = [[
usage: glrun serve [options]

Serves, on one port: a chat page at /, the Gemini API's REST routes
(/v1beta/models/M:generateContent, :streamGenerateContent, :countTokens,
/v1beta/models), the Live WebSocket path, POST /token (ephemeral Live
tokens) and GET /metrics. Clients never see the API key: the gateway uses
glrun's own configuration (GEMINI_API_KEY, Vertex AI, --mock) upstream,
with the policy in force (--policy FILE or the config dir's policy.lua):
retries, model fallback chains, Live first with REST behind it.

options:
  --listen HOST:PORT        where to listen (default 127.0.0.1:8088; port 0: any
                            free port). The first line on stdout is
                            "glrun serve: listening on URL"
  --access-token-file FILE  the access tokens clients must present, one per
                            line (Authorization: Bearer T, x-goog-api-key: T or
                            ?key=T); required for a non-loopback --listen
  --cert FILE, --key FILE   PEM certificate and private key: serve HTTPS/WSS
  --cors ORIGIN             allow browser calls from ORIGIN (or *); off by default
  --access-log FILE         the access log (one line per request) goes to FILE
                            instead of stderr; --access-log - turns it off
  --max-body BYTES          largest request body (default 10485760); larger: 413
  --max-message BYTES       largest Live WebSocket message (default 16777216)
  --max-connections N       open connections at most (default 0: no limit); past
                            it a new connection gets 503
  --max-connections-per-ip N  the same, per client address (default 0: no
                            limit; behind a reverse proxy every client has
                            the proxy's address)
  --rate-limit N            requests per minute per client (default 600; 0: off); over
                            it: 429 with RetryInfo
  --retry-wait SECONDS      longest total wait for retries of one request
                            (default 10), then the upstream's error as it is
  --drain SECONDS           on SIGTERM, how long open answers may take to
                            finish (default 10); then exit 0
  --help                    this text

glrun's own options come before the word serve: glrun --mock serve,
glrun --policy FILE serve.

exit status: 0 after a clean stop (SIGTERM), 1 when it cannot start
(the reason on stderr, one line), 2 on a usage error]]

local opts = cli.parse({ ... }, { name = "glrun serve", usage = USAGE,
  values = { ["--listen"] = "listen", ["--access-token-file"] = "token_file", ["--cert"] = "cert",
             ["--key"] = "key", ["--cors"] = "cors", ["--access-log"] = "access_log",
             ["--max-body"] = "max_body", ["--max-message"] = "max_message", ["--max-connections"] = "max_connections",
             ["--max-connections-per-ip"] = "max_connections_per_ip",
             ["--rate-limit"] = "rate_limit",
             ["--retry-wait"] = "retry_wait", ["--drain"] = "drain" } })

local function usage_error(msg) cli.usage_error("glrun serve", msg) end
local function fail(err)
  local msg = tostring(type(err) == "table" and err.message or err):match("^[^\n]*")
  if not msg:match("^glrun serve: ") then msg = "glrun serve: " .. msg end
  io.stderr:write(msg, "\n")
  os.exit(1)
end

local function number(name, v, min)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n < min then usage_error(("%s takes a number (at least %s), not '%s'"):format(name, min, v)) end
  return n
end

local host, port = "127.0.0.1", 8088
if opts.listen then
  local h, p = gateway.parse_listen(opts.listen)
  if not h then usage_error(p.message) end
  host, port = h, p
end
if (opts.cert == nil) ~= (opts.key == nil) then usage_error("--cert and --key go together") end

local tokens
if opts.token_file then
  local t, err = require("gemini.gateway_auth").load(opts.token_file)
  if not t then fail(err) end
  tokens = t
end

local access_log = opts.access_log
if access_log == "-" then access_log = false end

local g, err = gateway.new{
  host = host, port = port, tokens = tokens, cert = opts.cert, key = opts.key, cors = opts.cors,
  access_log = access_log, max_body = number("--max-body", opts.max_body, 1),
  max_ws_message = number("--max-message", opts.max_message, 1),
  max_connections = number("--max-connections", opts.max_connections, 0),
  max_connections_per_ip = number("--max-connections-per-ip", opts.max_connections_per_ip, 0),
  rate_limit = number("--rate-limit", opts.rate_limit, 0), retry_wait = number("--retry-wait", opts.retry_wait, 0),
  drain = number("--drain", opts.drain, 0),
}
if not g then fail(err) end
io.stdout:write("glrun serve: listening on ", g:url(), "\n")
io.stdout:flush()
if core.options and core.options.mock then
  io.stderr:write("glrun serve: answering from glmock (--mock)\n")
end
g:run()
os.exit(0)
