-- gemini.doctor_live — the doctor's Live checks: the WebSocket upgrade on
-- the exact URL glrun uses (gemini.live_url), and when it gets a 404 the
-- probes that tell the causes apart (the same upgrade without the proxy,
-- the slash-form path, the host without the base URL's path, the other API
-- versions), handed to gemini.diagnose as evidence; then, per Live model
-- of the chain, setup with the modality a chat would ask for and one
-- short turn through gemini.live (close code and reason when refused,
-- resumption offered or not); and with --ephemeral the same with a token.
local core = require "glrun.core"
local ws = require "glrun.ws"
local errors = require "gemini.errors"
local diagnose = require "gemini.diagnose"
local live_url = require "gemini.live_url"
local doctor = require "gemini.doctor"

local M = {}

local ms_since = doctor.ms_since

-- A probe's outcome in words.
local function outcome(r)
  if type(r) == "number" then return r == 101 and "101" or ("HTTP " .. r) end
  return tostring(r)
end

-- One upgrade (no setup): 101, an HTTP status, or an error kind; the error; ms.
local function try(st, url, headers, proxy)
  local t0 = core.now()
  local t = st.budget.probe()
  local ok, conn, err = pcall(ws.connect, { url = url, headers = headers, timeout = t, insecure = st.c.insecure,
                                            proxy = proxy, idle_timeout = t })
  if not ok then
    return "config", errors.new("config", "Live endpoint " .. core.redact(url) .. ": " .. tostring(conn)), ms_since(t0)
  end
  if conn then
    conn:close()
    return 101, nil, ms_since(t0)
  end
  if err.kind == "ws_handshake" then return err.status or 0, err, ms_since(t0) end
  return err.kind, err, ms_since(t0)
end

local LIVE_VERSIONS = { gemini = { "v1beta", "v1alpha", "v1" }, vertex = { "v1", "v1beta1" } }

--- The Live upgrade on glrun's own URL; on a 404, the probes that name
--- the cause (gemini.diagnose reads them as evidence).
function M.upgrade(st)
  local c = st.c
  local url = live_url.url(c)
  local shown = core.redact(url)
  local via = st.live_proxy and (" via proxy " .. st.live_proxy.shown) or ""
  if st.uses_live == false then
    st.add({ name = "live upgrade", ok = nil, skipped = true,
             saw = "not run: the policy's chat does not use Live (transports, or an empty Live chain)" })
    return
  end
  local hdrs, herr = live_url.auth_headers(c)
  if not hdrs then
    st.add(doctor.failed("live upgrade", "no credentials for the upgrade", diagnose.of(herr), herr))
    return
  end
  local r, err, ms = try(st, url, hdrs)
  if r == 101 then
    st.upgrade_ok = true
    st.add({ name = "live upgrade", ok = true, saw = "101 Switching Protocols at " .. shown .. via, ms = ms })
    return
  end
  local notes = {}
  local probes
  if st.live_proxy and type(r) == "number" and r >= 400 and r < 500 and r ~= 407 then
    -- a refusal through a proxy: the same upgrade without it tells whether the proxy is the cause
    probes = { proxy = st.live_proxy.shown, variants = {} }
    probes.direct = try(st, url, hdrs, false)
    notes[#notes + 1] = "without the proxy: " .. outcome(probes.direct)
  end
  if r == 404 then
    probes = probes or { variants = {} }
    local function variant(label, why, u, fix)
      if st.budget.over() then return end
      local s = try(st, u, hdrs)
      probes.variants[#probes.variants + 1] = { label = label, why = why, status = s, fix = fix }
      notes[#notes + 1] = label .. ": " .. outcome(s)
    end
    local slash = url:gsub("GenerativeService%.BidiGenerateContent", "GenerativeService/BidiGenerateContent")
    if slash ~= url then
      variant("the slash form .../GenerativeService/BidiGenerateContent", "path", slash,
        "the server at the base URL wants the Vertex-style slash form: it is not the Gemini API "
        .. "(GOOGLE_GENAI_USE_VERTEXAI=true for Vertex AI, or point GOOGLE_GEMINI_BASE_URL at the Gemini API)")
    end
    local root, prefix = c.base_url:match("^(%a[%w+.-]*://[^/]+)(/.+)$")
    if root then
      local rc = {}
      for k, v in pairs(c) do rc[k] = v end
      rc.base_url = root
      variant("the host without the base URL's path " .. prefix, "path", live_url.url(rc),
        "set the base URL to " .. core.redact(root) .. " (the path " .. prefix .. " serves REST but not Live)")
    end
    for _, v in ipairs(LIVE_VERSIONS[c.backend] or LIVE_VERSIONS.gemini) do
      if v ~= c.api_version then
        variant("API version " .. v, "version", live_url.url(c, { api_version = v }),
          "GOOGLE_GENAI_API_VERSION=" .. v .. " (or unset it)")
      end
    end
  end
  if not err then err = errors.new(tostring(r), "Live upgrade failed: " .. tostring(r)) end
  local d = diagnose.of(err, { transport = "live", url = url, api_version = c.api_version, mock = c.mock, probes = probes })
  local saw = outcome(r) .. " at " .. shown .. via .. (#notes > 0 and ("; " .. table.concat(notes, "; ")) or "")
  st.add(doctor.failed("live upgrade", saw, d, err, ms))
end

-- One Live session: setup, one short turn; returns ok, saw, err.
local function session(st, model, extra)
  local opts = st.opts
  local live = require "gemini.live"
  local models = require "gemini.models"
  local caps = models.live_caps(model)
  local modality = opts.modality and opts.modality:upper()
    or (caps.text and "TEXT" or "AUDIO + transcript")
  local t = st.budget.probe()
  local t0 = core.now()
  local copts = { model = model, client = opts.client, modality = opts.modality, timeout = t, setup_timeout = t,
                  policy = { reconnect = false, reseed = false } }
  for k, v in pairs(extra or {}) do copts[k] = v end
  local s, err = live.connect(copts)
  if not s then
    local what = err.close_code and ("close " .. err.close_code .. (err.reason and err.reason ~= ""
      and (" \"" .. err.reason .. "\"") or "")) or err.summary or err.message
    return false, ("setup (%s) refused: %s"):format(modality, core.redact(tostring(what))), err, ms_since(t0)
  end
  local setup_ms = ms_since(t0)
  local t1 = core.now()
  local ok, serr = s:send_text("Say OK.")
  local text, resumable, done = {}, false, false
  if ok then
    while not done and core.now() - t1 < t do
      local ev, rerr = s:recv(math.max(0.1, t - (core.now() - t1)))
      if not ev then serr = rerr; break end
      if ev.type == "text" or ev.type == "output_transcription" then text[#text + 1] = ev.text or ""
      elseif ev.type == "resumption" and ev.handle then resumable = true
      elseif ev.type == "turn_complete" then done = true end
    end
    -- a resumption update may follow turnComplete
    if done and not resumable then
      local ev = s:recv(0.2)
      if ev and ev.type == "resumption" and ev.handle then resumable = true end
    end
  end
  s:close()
  if not done then
    serr = serr or errors.new("timeout", "no turnComplete within " .. t .. " s")
    local what = serr.close_code and ("close " .. serr.close_code .. (serr.reason and serr.reason ~= ""
      and (" \"" .. serr.reason .. "\"") or "")) or serr.summary or serr.message
    return false, ("setup (%s) ok in %d ms; the turn failed: %s"):format(modality, setup_ms, core.redact(tostring(what))),
      serr, ms_since(t0)
  end
  local answer = table.concat(text):gsub("%s+", " ")
  if #answer > 40 then answer = answer:sub(1, 37) .. "..." end
  return true, ("setup (%s) ok in %d ms; one turn in %d ms%s; resumption %s"):format(modality, setup_ms,
    ms_since(t1), answer ~= "" and (": \"" .. answer .. "\"") or "", resumable and "offered" or "not offered"),
    nil, ms_since(t0)
end

local function diag_of(err, st, model)
  if type(err) == "table" and err.live and err.diagnosis then return diagnose.of(err) end
  return diagnose.of(err, { transport = "live", model = model, api_version = st.c.api_version, mock = st.c.mock })
end

--- Setup and one short turn with each Live model of the chain (at most
--- opts.max_live_models, default 2).
function M.setups(st)
  local list = st.live_models or {}
  if #list == 0 then
    local m = require("gemini.config").default_live_model(st.c, st.opts.client)
    list = { m }
  end
  if st.uses_live == false then return end
  if not st.upgrade_ok then
    st.add({ name = "live " .. list[1], ok = nil, skipped = true, saw = "not run: the Live upgrade failed" })
    return
  end
  for i, model in ipairs(list) do
    if i > (st.opts.max_live_models or 2) then break end
    local name = "live " .. model
    if st.budget.over() then
      st.add({ name = name, ok = nil, skipped = true, saw = "not run: the run's deadline passed" })
    else
      local ok, saw, err, ms = session(st, model)
      if ok then
        st.add({ name = name, ok = true, saw = saw, ms = ms })
      else
        st.add(doctor.failed(name, saw, diag_of(err, st, model), err, ms))
      end
    end
  end
end

--- --ephemeral: mint a one-use token (gemini.tokens) and open a Live
--- session with it (the v1alpha Constrained method), one short turn.
function M.ephemeral(st)
  local c = st.c
  if c.backend == "vertex" then
    st.add({ name = "ephemeral token", ok = nil, skipped = true, saw = "Vertex AI has no ephemeral tokens" })
    return
  end
  local models = require "gemini.models"
  local model = (st.live_models or {})[1] or require("gemini.config").default_live_model(c, st.opts.client)
  local t0 = core.now()
  local tok, err = require("gemini.tokens").create{ client = st.opts.client, uses = 1, expire = 120,
    new_session_expire = 60, setup = { model = "models/" .. models.id(model) }, timeout = st.budget.probe() }
  if not tok then
    err = errors.enrich(err)
    st.add(doctor.failed("ephemeral token", "POST v1alpha/auth_tokens: " .. tostring(err.status or err.kind),
      diagnose.of(err, { transport = "rest" }), err, ms_since(t0)))
    return
  end
  local ok, saw, serr, ms = session(st, model, { token = tok })
  saw = "token minted (1 use); " .. saw
  if ok then
    st.add({ name = "ephemeral token", ok = true, saw = saw, ms = ms })
  else
    st.add(doctor.failed("ephemeral token", saw, diag_of(serr, st, model), serr, ms))
  end
end

return M
