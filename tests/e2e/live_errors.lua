-- Every Live failure is diagnosed: what it means and what to do.
local live = require "gemini.live"
local models = require "gemini.models"

local base = assert(gl.options.mock_url, "run with glrun --mock")

local function fails(opts)
  local s, err = live.connect(opts)
  assert(s == nil, "expected a failure, got a session")
  assert(type(err) == "table" and err.live, "diagnosed error: " .. tostring(err))
  return err, tostring(err)
end

-- a 404 at the handshake: wrong path or a proxy, never "Live needs another product"
local err, msg = fails{ model = "gemini-live-text-test", client = { api_key = "k", base_url = base .. "/proxy" } }
assert(err.kind == "ws_handshake" and err.status == 404, msg)
assert(msg:find("not a Live endpoint", 1, true), msg)
assert(msg:find("proxy", 1, true), msg)
assert(not msg:find("Vertex", 1, true), "a 404 is not about Vertex AI: " .. msg)
assert(err.retryable == false and err.hint, msg)

-- the slash form is recognised and named
local raw = require("glrun.ws").connect{ url = (base:gsub("^http", "ws")) .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent" }
assert(raw == nil)
err = live.diagnose(select(2, require("glrun.ws").connect{ url = (base:gsub("^http", "ws")) .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent?key=SECRET-XYZ" }),
                    { model = "m", mock = true })
msg = tostring(err)
assert(msg:find("slash before the method", 1, true) and msg:find("GenerativeService.BidiGenerateContent", 1, true), msg)
assert(not msg:find("SECRET%-XYZ"), msg)

-- 1008: the model is not offered for Live; the Live models are named
err, msg = fails{ model = "gemini-2.5-flash-live" }
assert(err.kind == "ws_closed" and err.close_code == 1008 and err.fatal == true, msg)
assert(msg:find("not offered for Live", 1, true) and msg:find("v1beta", 1, true), msg)
assert(msg:find("is not a model id", 1, true), msg)
assert(msg:find("gemini-2.5-flash-native-audio-latest", 1, true), "names the Live models: " .. msg)
assert(err.reason:find("is not found for API version", 1, true), "the server's reason is kept")

err, msg = fails{ model = "gemini-2.0-flash-live-001" }
assert(err.close_code == 1008 and msg:find("shut down on 2025-12-09", 1, true), msg)

-- 1007: key, modality
err, msg = fails{ model = "gemini-live-text-test", client = { api_key = "bad", base_url = base } }
assert(err.close_code == 1007 and msg:find("API key is unknown", 1, true) and err.fatal, msg)
err, msg = fails{ model = "gemini-live-text-test", client = { api_key = "expired", base_url = base } }
assert(err.close_code == 1007 and err.fatal, msg)   -- ("expired" is the key here, so it is redacted)
err, msg = fails{ model = "gemini-3.1-flash-live-preview", modality = "text" }
assert(err.close_code == 1007 and msg:find("response modality", 1, true), msg)
-- ... and without forcing TEXT, glrun asks an audio-only model for AUDIO + transcript
-- (a 2.5 one: a 3.x Live model takes user text only as realtimeInput.text)
local s = assert(live.connect{ model = "gemini-2.5-flash-native-audio-preview-12-2025" })
assert(s:send_text("hi"))
assert(s:receive_turn(10) == "echo: hi")
s:close()

-- 1011: server side, retryable
err, msg = fails{ model = "gemini-live-text-test-internal", policy = { reconnect = false } }
assert(err.close_code == 1011 and err.retryable == true and not err.fatal, msg)

-- connect failures keep their kinds
err = fails{ model = "m", client = { api_key = "k", base_url = "http://127.0.0.1:1" }, timeout = 5 }
assert(err.kind == "connect" and err.retryable, tostring(err))

-- the models table
assert(models.explain("gemini-live-2.5-flash-preview"):find("shut down", 1, true))
assert(models.explain("gemini-live-2.5-flash-native-audio"):find("Vertex AI model id", 1, true))
assert(models.explain("gemini-2.5-flash-native-audio-latest") == nil)
local listed = assert(models.refresh())
local names = table.concat(listed, ",")
assert(names:find("gemini-live-text-test", 1, true) and names:find("gemini-3.1-flash-live-preview", 1, true), names)
assert(not names:find("gemini-2.5-flash,", 1, true), "REST-only models are not Live: " .. names)
assert(models.is_live("gemini-live-text-test") and not models.is_live("gemini-2.5-flash"))
print("live_errors ok")
