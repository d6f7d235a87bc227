-- gemini — the Gemini client for glrun scripts.
--
--   local gemini = require "gemini"      -- also the global `gemini`
--   print(gemini.ask("Why is the sky blue?"))
--   for piece in gemini.stream("Tell me a story") do io.write(piece) end
--
-- Lower layers: gemini.rest (REST requests as plain tables),
-- gemini.config (keys, base URL, models), gemini.errors.
local M = {}

local lazy = { rest = "gemini.rest", config = "gemini.config", errors = "gemini.errors",
               live = "gemini.live", models = "gemini.models",
               policy = "gemini.policy", ratelimit = "gemini.ratelimit" }
setmetatable(M, { __index = function(t, k)
  local name = lazy[k]
  if name then
    local m = require(name)
    rawset(t, k, m)
    return m
  end
end })

--- Build a GenerateContentRequest from a prompt (string, or a list of
--- contents) and options {system, config (generationConfig), tools,
--- history (contents before the prompt)}.
function M.request(prompt, opts)
  opts = opts or {}
  local contents = {}
  for _, c in ipairs(opts.history or {}) do contents[#contents + 1] = c end
  if type(prompt) == "string" then
    contents[#contents + 1] = { role = "user", parts = { { text = prompt } } }
  elseif type(prompt) == "table" then
    for _, c in ipairs(prompt) do contents[#contents + 1] = c end
  else
    error("gemini: the prompt must be a string or a list of contents, not " .. type(prompt), 3)
  end
  local req = { contents = contents, generationConfig = opts.config, tools = opts.tools,
                toolConfig = opts.tool_config, safetySettings = opts.safety }
  if opts.system then
    req.systemInstruction = { parts = { { text = opts.system } } }
  end
  return req
end

--- A conversation over Live or REST with the fallback policy (see
--- gemini.chat): chat{system=, model=, live_model=, transport=, policy=}.
function M.chat(opts)
  return require("gemini.chat").new(opts)
end

--- One answer, as text. Returns text, response — or nil, err (an answer
--- that is empty, blocked or incomplete is an error too).
--- opts: model, system, config, timeout (idle seconds), deadline (seconds
--- for the whole answer), history.
function M.ask(prompt, opts)
  opts = opts or {}
  local resp, err = M.rest.generate(M.request(prompt, opts), opts)
  if not resp then return nil, err end
  return resp.text, resp
end

--- Stream an answer: an iterator of text pieces, as they arrive over
--- streamGenerateContent (SSE). Raises the error if the request fails,
--- and when the stream ends before the answer is complete (kind
--- "stream_cut", err.partial the text so far). opts as for ask.
function M.stream(prompt, opts)
  opts = opts or {}
  local it, st, _, closer = M.rest.stream(M.request(prompt, opts), opts)
  if not it then M.errors.raise(st) end
  local function next_piece()
    while true do
      local chunk = it()
      if chunk == nil then return nil end
      if chunk.text ~= "" then return chunk.text end
    end
  end
  return next_piece, st, nil, closer
end

return M
