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
  -f, --file FILE   attach a file (repeatable): small ones go inline, larger
                    ones are uploaded with the Files API (progress on a terminal)
  --schema FILE     structured output: FILE holds a JSON Schema; the answer is
                    checked against it (asked once more if it does not fit)
                    and printed as one line of JSON; REST only
  --help            this text

exit status: 0 answered, 1 no answer (the reason on stderr), 2 usage error,
130 interrupted (Ctrl-C)]]

local cli = require "glrun.cli"
local function usage_error(msg) cli.usage_error("glrun ask", msg) end

local opts, words = cli.parse({ ... }, { name = "glrun ask", usage = USAGE, words = true,
  values = { ["--model"] = "model", ["--system"] = "system", ["--transport"] = "transport",
             ["--schema"] = "schema" },
  lists = { ["-f"] = "files", ["--file"] = "files" },
  flags = { ["--json"] = "json" } })

local transport = opts.transport or "rest"
if transport ~= "rest" and transport ~= "live" and transport ~= "auto" then
  usage_error("--transport must be rest, live or auto, not '" .. transport .. "'")
end
if opts.json and transport ~= "rest" then
  usage_error("--json prints REST responses: it cannot be combined with --transport " .. transport)
end
if opts.schema and (transport ~= "rest" or opts.json) then
  usage_error("--schema asks over REST and prints the JSON value: not with --transport " .. transport
    .. (opts.json and " or --json" or ""))
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

-- attachments and structured output (gemini.files, gemini.schema)
local content = question
if opts.files or opts.schema then
  local schema
  if opts.schema then
    local f, ferr = io.open(opts.schema, "rb")
    if not f then io.stderr:write("glrun ask: --schema: cannot read ", opts.schema, ": ", (ferr:gsub("^[^:]*: ", "")), "\n"); os.exit(2) end
    local text = f:read("a")
    f:close()
    local v, jerr = json.decode(text)
    if type(v) ~= "table" then
      io.stderr:write("glrun ask: --schema ", opts.schema, ": ", jerr and (jerr.message or tostring(jerr)) or "not a JSON object (a schema is an object)", "\n")
      os.exit(2)
    end
    schema = v
  end
  local progress
  if opts.files and gl.isatty(2) then
    progress = function(sent, total)
      io.stderr:write(("\rglrun ask: uploading %3d%%"):format(total > 0 and sent * 100 // total or 100),
                      sent >= total and "\r\27[K" or "")
    end
  end
  if schema then
    local v, err = gemini.ask(question, { model = opts.model, system = opts.system, files = opts.files,
                                          schema = schema, progress = progress })
    if v == nil then fail(err) end
    io.stdout:write(assert(json.encode(v)), "\n")
    return
  end
  local parts, err = gemini.files.parts(opts.files, { progress = progress })
  if not parts then fail(err) end
  parts[#parts + 1] = { text = question }
  content = { role = "user", parts = parts }
end

-- the raw chunks of the attempt that answered (a new attempt starts over)
local chunks = {}
local chat, cerr = gemini.chat{
  model = opts.model, system = opts.system, transport = transport,
  on_response = opts.json and function(resp)
    local copy = {}
    for k, v in pairs(resp) do if k ~= "text" then copy[k] = v end end -- .text is glrun's, not the API's
    chunks[#chunks + 1] = copy
  end or nil,
}
if not chat then fail(cerr) end
for _, ev in ipairs{ "retry", "fallback", "reconnect", "restart" } do
  chat:on(ev, function() chunks = {} end)
end

if opts.json then
  local text, err = chat:send(content)
  if not text then fail(err) end
  for _, c in ipairs(chunks) do io.stdout:write(assert(json.encode(c)), "\n") end
  return
end

local ends_nl = true
local sok, err = pcall(function()
  for piece, kind in assert(chat:stream(content)) do
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
