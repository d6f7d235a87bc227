-- glrun doctor — "REST works, Live doesn't: why?", measured: probes the
-- configuration a default chat would use, step by step, and prints each
-- check with what it saw, the cause and the fix (gemini.doctor).
--
--   glrun doctor                 # the report; exit 0 when a default chat has what it needs
--   glrun doctor --json          # one JSON document
local cli = require "glrun.cli"
local doctor = require "gemini.doctor"

local USAGE = [[
usage: glrun doctor [options]

Probes the configuration a default chat would use (the Gemini API key or
Vertex AI) and prints one line per check, with what it saw, the cause and
the fix: the configuration, proxies and TLS, the key and the server's
clock, the models of the policy's chain, one tiny REST answer, the Live
WebSocket upgrade (and, on a 404, the probes that tell a proxy, a wrong
path and a wrong API version apart), Live setup and one short turn per
Live model, the 429s met. A few tokens at most; every probe bounded.

options:
  --json              one JSON document: {ok, ms, checks: [{name, ok, saw, cause, fix, ms}]}
  --plain             ASCII marks, no colours (also when the locale is not UTF-8, or NO_COLOR)
  --timeout SECS      seconds per probe (default 5)
  --deadline SECS     seconds for the whole run (default 60)
  --model NAME        check this REST model first
  --live-model NAME   check this Live model first
  --modality M        what the Live setup asks for: text or audio (default: what a chat asks)
  --ephemeral         also mint an ephemeral token and open a Live session with it
  --help              this text

exit status: 0 everything a default chat needs works, 1 a check failed, 2 usage error]]

local opts = cli.parse({ ... }, { name = "glrun doctor", usage = USAGE,
  values = { ["--timeout"] = "timeout", ["--deadline"] = "deadline", ["--model"] = "model",
             ["--live-model"] = "live_model", ["--modality"] = "modality" },
  flags = { ["--json"] = "json", ["--plain"] = "plain", ["--ephemeral"] = "ephemeral" } })

local function seconds(name, v)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n <= 0 then cli.usage_error("glrun doctor", name .. " takes a number of seconds, not '" .. v .. "'") end
  return n
end
if opts.modality and opts.modality ~= "text" and opts.modality ~= "audio" then
  cli.usage_error("glrun doctor", "--modality is text or audio, not '" .. opts.modality .. "'")
end

local report = doctor.run{ timeout = seconds("--timeout", opts.timeout), deadline = seconds("--deadline", opts.deadline),
  model = opts.model, live_model = opts.live_model, modality = opts.modality, ephemeral = opts.ephemeral }
local ascii = opts.plain or not require("gemini.doctor_report").utf8_ok()
io.stdout:write(doctor.render(report, { json = opts.json, ascii = ascii, color = not opts.plain and cli.color(1) }))
io.stdout:flush()
os.exit(report.ok and 0 or 1)
