-- glrun ask — one question, one answer streamed to stdout: for scripts.
--
--   glrun ask "Why is the sky blue?"
--   echo "Summarise: $(cat notes.txt)" | glrun ask -
--   glrun ask --json "hi" | jq .usageMetadata
--
-- Errors go to stderr as one line. Exit status: 0 answered, 1 no answer,
-- 2 usage error, 130 interrupted (Ctrl-C). The fallback policy of gemini.chat applies (a retry or a
-- fallback prints one line on stderr).
local gemini = require "gemini"
local json = require "glrun.json"

local USAGE = [[
usage: glrun ask [options] QUESTION...
       COMMAND | glrun ask [options] -

Asks Gemini one question and streams the answer to stdout. The words of
QUESTION are joined by spaces; '-' reads the question from standard input.

options:
  --model NAME      the model (default: the policy's REST chain, gemini-2.5-flash first)
  --system TEXT     system instruction
  --transport T     rest (default) | live | auto (Live first, then REST)
  --json            print the raw response chunks of the answer (one
                    GenerateContentResponse JSON object per line), not the text;
                    REST only
  --help            this text

exit status: 0 answered, 1 no answer (the reason on stderr), 2 usage error,
130 interrupted (Ctrl-C)]]

local cli = require "glrun.cli"
local function usage_error(msg) cli.usage_error("glrun ask", msg) end

local opts, words = cli.parse({ ... }, { name = "glrun ask", usage = USAGE, words = true,
  values = { ["--model"] = "model", ["--system"] = "system", ["--transport"] = "transport" },
  flags = { ["--json"] = "json" } })

local transport = opts.transport or "rest"
if transport ~= "rest" and transport ~= "live" and transport ~= "auto" then
  usage_error("--transport must be rest, live or auto, not '" .. transport .. "'")
end
if opts.json and transport ~= "rest" then
  usage_error("--json prints REST responses: it cannot be combined with --transport " .. transport)
end

local question
if #words == 1 and words[1] == "-" then
  question = io.read("a") or ""
  question = question:gsub("%s+$", "")
elseif #words > 0 then
  for _, w in ipairs(words) do
    if w == "-" then usage_error("'-' (read standard input) must be the only question") end
  end
  question = table.concat(words, " ")
end
if not question then usage_error("no question: glrun ask \"QUESTION\", or glrun ask - to read it from standard input") end
if not question:match("%S") then usage_error("the question is empty") end

local function first_line(s) return (tostring(s):match("^[^\n]*")) end

local function fail(err)
  -- Ctrl-C (or SIGTERM, SIGHUP) is not "no answer": glrun reports it and
  -- exits 130 (143, 129) as for any script
  if type(err) == "table" and err.kind == "interrupted" then error(err, 0) end
  local msg
  if type(err) == "table" and type(err.attempts) == "table" and #err.attempts > 0 then
    msg = err.attempts[#err.attempts].reason
    if #err.attempts > 1 then msg = msg .. (" (no answer after %d attempts)"):format(#err.attempts) end
  else
    msg = first_line(type(err) == "table" and err.message or err)
  end
  io.stderr:write("glrun ask: ", msg, "\n")
  os.exit(1)
end

-- the raw chunks of the attempt that answered (a new attempt starts over)
local chunks = {}
local ok, chat = pcall(gemini.chat, {
  model = opts.model, system = opts.system, transport = transport,
  on_response = opts.json and function(resp)
    local copy = {}
    for k, v in pairs(resp) do if k ~= "text" then copy[k] = v end end -- .text is glrun's, not the API's
    chunks[#chunks + 1] = copy
  end or nil,
})
if not ok then fail(chat) end
for _, ev in ipairs{ "retry", "fallback", "reconnect", "restart" } do
  chat:on(ev, function() chunks = {} end)
end

if opts.json then
  local text, err = chat:send(question)
  if not text then fail(err) end
  for _, c in ipairs(chunks) do io.stdout:write(assert(json.encode(c)), "\n") end
  return
end

local ends_nl = true
local sok, err = pcall(function()
  for piece, kind in chat:stream(question) do
    if kind == "break" then
      io.stderr:write(piece) -- "[answer restarted]": the text before it was cut
    else
      io.stdout:write(piece)
      io.stdout:flush()
      ends_nl = piece:sub(-1) == "\n"
    end
  end
end)
if not ends_nl then io.stdout:write("\n") end
if not sok then fail(err) end
