-- gemini — the Gemini client for glrun scripts.
--
--   local gemini = require "gemini"      -- also the global `gemini`
--   print(gemini.ask("Why is the sky blue?"))                    -- the text, or nil, err
--   for piece in assert(gemini.stream("Tell me a story")) do io.write(piece) end
--
-- The conventions (README.md, "Conventions"): a call returns its result or
-- nil, err (err an error object with `kind`); an iterator returns nil, err
-- when it cannot start and raises a failure after; misuse raises.
-- `generation` is the request's generationConfig; `client` the client
-- options of gemini.config (key, base URL, ...).
--
-- Lower layers: gemini.rest (REST requests as plain tables),
-- gemini.config (keys, base URL, models), gemini.errors.
local M = {}

local lazy = { rest = "gemini.rest", config = "gemini.config", errors = "gemini.errors",
               live = "gemini.live", models = "gemini.models",
               policy = "gemini.policy", ratelimit = "gemini.ratelimit",
               files = "gemini.files", batches = "gemini.batches", caches = "gemini.caches",
               tokens = "gemini.tokens", schema = "gemini.schema" }
setmetatable(M, { __index = function(t, k)
  local name = lazy[k]
  if name then
    local m = require(name)
    rawset(t, k, m)
    return m
  end
end })

-- Misuse raises: options that are not a table.
local function check_opts(fn, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("gemini.%s: the options must be a table, not %s"):format(fn, type(opts)), 3)
  end
  return opts or {}
end

--- Build a GenerateContentRequest from a prompt (string, or a list of
--- contents) and options {system, generation (generationConfig; `config`
--- is its old name, still accepted), tools, tool_config, safety, history
--- (contents before the prompt)}.
function M.request(prompt, opts)
  opts = check_opts("request", opts)
  local contents = {}
  for _, c in ipairs(opts.history or {}) do contents[#contents + 1] = c end
  if type(prompt) == "string" then
    contents[#contents + 1] = { role = "user", parts = { { text = prompt } } }
  elseif type(prompt) == "table" then
    for _, c in ipairs(prompt) do contents[#contents + 1] = c end
  else
    error("gemini: the prompt must be a string or a list of contents, not " .. type(prompt), 3)
  end
  local gen = opts.generation
  if gen == nil then gen = opts.config end -- the old name
  if gen ~= nil and type(gen) ~= "table" then
    error("gemini: generation (generationConfig) must be a table, not " .. type(gen), 3)
  end
  local req = { contents = contents, generationConfig = gen, tools = opts.tools,
                toolConfig = opts.tool_config, safetySettings = opts.safety }
  if opts.system then
    req.systemInstruction = { parts = { { text = opts.system } } }
  end
  for ci, c in ipairs(contents) do -- { file = f }: a part naming an uploaded File (copied, not edited)
    for i, p in ipairs(type(c) == "table" and type(c.parts) == "table" and c.parts or {}) do
      if type(p) == "table" and p.file then
        if contents[ci] == c then
          contents[ci] = { role = c.role, parts = table.move(c.parts, 1, #c.parts, 1, {}) }
        end
        contents[ci].parts[i] = require("gemini.files").part(p.file)
      end
    end
  end
  return req
end

--- Embeddings: gemini.embed(text_or_list, opts) (see gemini.embed).
function M.embed(input, opts)
  return require("gemini.embed").embed(input, opts)
end

--- A conversation over Live or REST with the fallback policy (see
--- gemini.chat): chat{system=, model=, live_model=, transport=, policy=}.
function M.chat(opts)
  return require("gemini.chat").new(opts)
end

--- The whole answer: the GenerateContentResponse (with `.text`, its text)
--- — or nil, err (an answer that is empty, blocked or incomplete is an
--- error too). opts: model, system, generation (generationConfig), tools,
--- history, timeout (idle seconds), deadline (seconds for the whole
--- answer), client (gemini.config options). opts.files (attachments),
--- opts.schema (structured output), opts.cache (a context cache): see
--- gemini.prompt.
function M.generate(prompt, opts)
  opts = check_opts("generate", opts)
  if opts.files or opts.schema ~= nil or opts.cache then
    local v, resp = require("gemini.prompt").ask(prompt, opts)
    if v == nil then return nil, resp end
    return resp -- with schema: resp.parsed is the decoded, checked value
  end
  return M.rest.generate(M.request(prompt, opts), opts)
end

--- One answer, as text — or nil, err. With opts.schema (structured
--- output) the decoded value instead of the text. opts as for generate;
--- gemini.generate gives the whole response.
function M.ask(prompt, opts)
  opts = check_opts("ask", opts)
  if opts.files or opts.schema ~= nil or opts.cache then
    local v, err = require("gemini.prompt").ask(prompt, opts)
    if v == nil then return nil, err end
    return v
  end
  local resp, err = M.rest.generate(M.request(prompt, opts), opts)
  if not resp then return nil, err end
  return resp.text
end

--- Stream an answer: an iterator of text pieces, as they arrive over
--- streamGenerateContent (SSE) — or nil, err when the request fails
--- before the stream starts (in a for loop: `for piece in
--- assert(gemini.stream(q)) do`). The iterator raises a failure that
--- comes later, and an answer that does not complete (kind "stream_cut",
--- err.partial the text so far). opts as for generate.
function M.stream(prompt, opts)
  opts = check_opts("stream", opts)
  local it, st, _, closer = M.rest.stream(M.request(prompt, opts), opts)
  if not it then return nil, st end
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
