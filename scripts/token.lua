-- glrun token — an ephemeral token for a web or mobile client: the backend
-- keeps the API key, the client gets a token that opens Live sessions only.
--
--   glrun token --model gemini-live-2.5-flash --uses 1 --ttl 10m
--   glrun token --json --model M --lock temperature     # the whole answer as JSON
--
-- Prints the token name (auth_tokens/...) on stdout. Gemini API only.
local gemini = require "gemini"
local json = require "glrun.json"
local cli = require "glrun.cli"
local R = require "gemini.resource"

local USAGE = [[
usage: glrun token [options]

Creates an ephemeral auth token (POST /v1alpha/auth_tokens) and prints its
name (auth_tokens/...). A client uses it in place of the API key, on the
Live API's v1alpha BidiGenerateContentConstrained method only.

options:
  --model NAME          lock the session to this Live model
  --system TEXT         lock this system instruction
  --modality M          lock the response modality: text or audio
  --uses N              sessions the token may start (default 1)
  --ttl DURATION        lifetime of the token: 90s, 10m, 1h (default 30m)
  --session-ttl DUR     a session must start within this (default 60s)
  --lock FIELDS         comma-separated fields to lock beside those set (e.g.
                        temperature,topP); without --lock the whole setup is
                        locked; --lock= locks only the fields set
  --json                print the whole answer as JSON (name, expireTime,
                        newSessionExpireTime, uses)
  --help                this text

exit status: 0 created, 1 not created (the reason on stderr), 2 usage error]]

local opts = cli.parse({ ... }, { name = "glrun token", usage = USAGE,
  values = { ["--model"] = "model", ["--system"] = "system", ["--modality"] = "modality", ["--uses"] = "uses",
             ["--ttl"] = "ttl", ["--session-ttl"] = "session_ttl", ["--lock"] = "lock" },
  flags = { ["--json"] = "json" } })

local function usage_error(msg) cli.usage_error("glrun token", msg) end

local uses = 1
if opts.uses then
  uses = math.tointeger(tonumber(opts.uses))
  if not uses or uses < 1 then usage_error("--uses takes a positive whole number, not '" .. opts.uses .. "'") end
end
local ttl = opts.ttl and R.seconds(opts.ttl)
if opts.ttl and not ttl then usage_error("--ttl takes a duration such as 90s, 10m or 1h, not '" .. opts.ttl .. "'") end
local sttl = opts.session_ttl and R.seconds(opts.session_ttl)
if opts.session_ttl and not sttl then usage_error("--session-ttl takes a duration such as 60s or 5m") end
if ttl and sttl and sttl > ttl then usage_error("--session-ttl cannot be longer than --ttl") end

local setup
if opts.model or opts.system or opts.modality then
  setup = {}
  if opts.model then setup.model = opts.model end
  if opts.system then setup.systemInstruction = { parts = { { text = opts.system } } } end
  if opts.modality then
    local m = opts.modality:upper()
    if m ~= "TEXT" and m ~= "AUDIO" then usage_error("--modality is text or audio, not '" .. opts.modality .. "'") end
    setup.generationConfig = { responseModalities = { m } }
  end
end
local lock
if opts.lock then
  lock = {}
  for f in opts.lock:gmatch("[^,%s]+") do lock[#lock + 1] = f end
end

local tok, err = gemini.tokens.create{ uses = uses, expire = ttl, new_session_expire = sttl, setup = setup, lock = lock }
if not tok then
  io.stderr:write("glrun token: ", (tostring(err.message or err):match("^[^\n]*")), "\n")
  os.exit(1)
end
if opts.json then
  io.stdout:write(assert(json.encode{ name = tok.name, expireTime = tok.expireTime,
    newSessionExpireTime = tok.newSessionExpireTime, uses = tok.uses }), "\n")
else
  io.stdout:write(tok.name, "\n")
end
