-- A Live client for the glrun serve tests (tests/e2e/serve_live.sh): a
-- plain WebSocket client (glrun.ws) that does NOT ask for session
-- resumption, so the gateway must hide goAway and drops by itself.
--   glrun serve_live_client.lua URL TEXT [TEXT...]   (a TEXT "sleep:S" waits S seconds)
-- Prints one line per turn, "turn <i> <text>", and what it saw:
-- "seen goAway", "seen sessionResumptionUpdate", "seen interrupted",
-- "closed <code> <reason>" (a close before the end), "handshake <status>".
local ws = require "glrun.ws"
local json = require "glrun.json"
local url = assert(arg[1], "usage: serve_live_client.lua URL TEXT...")
local c, err = ws.connect{ url = url, timeout = 10 }
if not c then
  print("handshake " .. tostring(err.status or err.kind))
  os.exit(0)
end
assert(c:send(json.encode{ setup = { model = "models/gemini-live-text-test",
  generationConfig = { responseModalities = { "TEXT" } } } }, "text"))
local seen = {}
local function next_msg()
  local d, e = c:recv(20)
  if not d then
    print(("closed %s %s"):format(tostring(e.close_code or e.kind), tostring(e.reason or "")))
    os.exit(0)
  end
  local m = assert(json.decode(d))
  if m.goAway then seen.goAway = true end
  if m.sessionResumptionUpdate then seen.sessionResumptionUpdate = true end
  if m.serverContent and m.serverContent.interrupted then seen.interrupted = true end
  return m
end
local m = next_msg()
assert(m.setupComplete, "no setupComplete first")
for i = 2, #arg do
  local t = arg[i]
  local secs = t:match("^sleep:(.+)$")
  if secs then
    gl.sleep(tonumber(secs))
  else
    assert(c:send(json.encode{ clientContent = { turns = { { role = "user", parts = { { text = t } } } },
                                                turnComplete = true } }, "text"))
    local text = ""
    while true do
      m = next_msg()
      local sc = m.serverContent
      if sc and sc.interrupted then text = "" end -- the gateway asks the cut turn again
      for _, p in ipairs(sc and sc.modelTurn and sc.modelTurn.parts or {}) do text = text .. (p.text or "") end
      if sc and sc.turnComplete then break end
    end
    print(("turn %d %s"):format(i - 1, text))
  end
end
for k in pairs(seen) do print("seen " .. k) end
c:close()
