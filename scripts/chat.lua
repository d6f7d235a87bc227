-- glrun chat — an interactive chat in the terminal, with the fallback
-- policy of gemini.chat (Live first, then REST, by default).
--
--   glrun chat                          (or: glrun scripts/chat.lua)
--   glrun --mock chat --transport rest
--   printf 'hi\nand then?\n' | glrun chat --save-on-exit conv.json
--
-- Replies stream as they arrive; until the first token a small indicator
-- runs (on a terminal). Ctrl-C cancels the reply being written (it does not
-- enter the history) and keeps the conversation; Ctrl-D or /quit leaves.
-- With standard input not a terminal every line is a user turn (commands
-- too), replies go to stdout, everything else to stderr, and the exit
-- status is 1 when a turn got no answer.
local gemini = require "gemini"
local core = require "glrun.core"
local json = require "glrun.json"
local rl = require "glrun.readline"
local models = require "gemini.models"

local USAGE = [[
usage: glrun chat [options]

An interactive chat with Gemini: streamed replies, line editing and history
(saved in $XDG_STATE_HOME/glrun/history), commands below. Reads plain lines
when standard input is not a terminal (one user turn per line).

options:
  --model NAME          REST model to use first (default: the policy's chain)
  --transport T         live | rest | auto (default auto: Live, then REST)
  --system TEXT         system instruction
  --load FILE           start from a conversation saved with /save
  --save-on-exit FILE   save the conversation when leaving (also on errors,
                        SIGTERM and SIGHUP); exit status 1 if it cannot be saved
  --help                this text

commands:
  /model [NAME]         switch model (a Live model id sets the Live model);
                        /model alone shows the models in use
  /transport T          live | rest | auto
  /system TEXT          set the system instruction (/system alone clears it)
  /save FILE            save the conversation as JSON
  /load FILE            load a conversation saved with /save
  /reset                forget the conversation
  /attach FILE          attach a file to the next message (small ones inline,
                        larger ones uploaded with the Files API)
  /help                 this list
  /quit                 leave (so does Ctrl-D)
  //text                send "/text" as a message

Ctrl-C cancels the reply being written; the conversation goes on.]]

---------------------------------------------------------------------------
-- options
---------------------------------------------------------------------------

local cli = require "glrun.cli"
local function usage_error(msg) cli.usage_error("glrun chat", msg) end

local TRANSPORTS = { live = true, rest = true, auto = true }

local opts = cli.parse({ ... }, { name = "glrun chat", usage = USAGE,
  values = { ["--model"] = "model", ["--transport"] = "transport", ["--system"] = "system",
             ["--load"] = "load", ["--save-on-exit"] = "save_on_exit" } })
if opts.transport and not TRANSPORTS[opts.transport] then
  usage_error("--transport must be live, rest or auto, not '" .. opts.transport .. "'")
end

---------------------------------------------------------------------------
-- the terminal
---------------------------------------------------------------------------

local interactive = rl.interactive()          -- stdin is a terminal: edit lines
local out_tty = core.isatty(1)
local function paint(code, fd)
  return function(s)
    if not cli.color(fd) then return s end
    return "\27[" .. code .. "m" .. s .. "\27[0m"
  end
end
local dim_err, red_err = paint("2", 2), paint("31", 2)
local dim_out = paint("2", 1)

-- notes (command feedback) go to stderr: stdout holds the replies only
local function note(s) io.stderr:write(dim_err(s), "\n") end
local function fail_line(s) io.stderr:write(red_err("error: " .. s), "\n") end

---------------------------------------------------------------------------
-- the conversation
---------------------------------------------------------------------------

local state = { model = opts.model, live_model = nil, transport = opts.transport or "auto",
                system = opts.system }
local chat
local spinner -- the running waiting indicator, if any

local function first_line(s) return (tostring(s):match("^[^\n]*")) end

-- one line for a failed turn: what the last attempt found, and how many
-- attempts there were
local function describe(err)
  if type(err) ~= "table" then return first_line(err) end
  local attempts = type(err.attempts) == "table" and err.attempts or {}
  local last = attempts[#attempts]
  local msg = last and last.reason or first_line(err.message or tostring(err))
  if #attempts > 1 then
    local n = { live = 0, rest = 0 }
    for _, a in ipairs(attempts) do n[a.transport] = (n[a.transport] or 0) + 1 end
    local tried = {}
    if n.live > 0 then tried[#tried + 1] = ("Live x%d"):format(n.live) end
    if n.rest > 0 then tried[#tried + 1] = ("REST x%d"):format(n.rest) end
    msg = msg .. (" (no answer after %d attempts: %s)"):format(#attempts, table.concat(tried, ", "))
  end
  return msg
end

local function build(history)
  local old = chat
  local c, err = gemini.chat{ model = state.model, live_model = state.live_model,
                              transport = state.transport, system = state.system,
                              history = history }
  if not c then return nil, err end
  if old then old:close() end
  chat = c
  -- a policy line (fallback, retry, ...) goes on its own line: erase the
  -- indicator first (handlers run before chat.lua prints the line)
  for _, ev in ipairs{ "fallback", "retry", "reconnect", "restart", "circuit" } do
    chat:on(ev, function() if spinner then spinner.clear() end end)
  end
  return chat
end

local function encode_conversation()
  local h = {}
  for i, c in ipairs(chat.history) do h[i] = "    " .. assert(json.encode(c)) end
  local head = assert(json.encode{ glrun_chat = 1, system = state.system,
                                   model = state.model or chat.chain.rest[1],
                                   live_model = state.live_model, transport = state.transport })
  -- one turn per line, so a saved conversation reads (and diffs) well
  return "{\n  " .. head:sub(2, -2) .. ',\n  "history": [' .. (#h > 0 and ("\n" .. table.concat(h, ",\n") .. "\n  ") or "")
    .. "]\n}\n"
end

-- Write the conversation to a temporary file beside path, then rename it
-- over path: a failed write (a full disk, a quota) is reported and leaves
-- the previous file as it was.
local function save(path)
  local ok, err = require("glrun.atomic").write(path, encode_conversation())
  if ok then return true end
  return nil, err.message
end

local function load(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local t, derr = json.decode(text)
  if type(t) ~= "table" then return nil, path .. ": " .. (derr and derr.message or "not a JSON object") end
  local hist = t.history
  if hist == nil then hist = {} end
  if type(hist) ~= "table" then return nil, path .. ": history must be a list" end
  for i, c in ipairs(hist) do
    if type(c) ~= "table" or (c.role ~= "user" and c.role ~= "model") or type(c.parts) ~= "table" then
      return nil, ("%s: history[%d] is not a {role, parts} content"):format(path, i)
    end
  end
  if t.transport ~= nil and not TRANSPORTS[t.transport] then
    return nil, path .. ": transport must be live, rest or auto"
  end
  local function str(v) return type(v) == "string" and v or nil end
  local saved = { model = state.model, live_model = state.live_model, transport = state.transport,
                  system = state.system }
  state.system, state.model, state.live_model = str(t.system), str(t.model), str(t.live_model)
  state.transport = str(t.transport) or state.transport
  local ok, berr = build(hist)
  if not ok then
    for k, v in pairs(saved) do state[k] = v end
    return nil, tostring(berr)
  end
  return #hist
end

---------------------------------------------------------------------------
-- the waiting indicator: a task that redraws one line until stopped
---------------------------------------------------------------------------

local FRAMES = { "|", "/", "-", "\\" }

local function start_spinner(what)
  local sp = { on = true, shown = false }
  function sp.clear()
    if sp.shown then io.stdout:write("\r\27[K"); io.stdout:flush(); sp.shown = false end
  end
  function sp.stop() sp.on = false; sp.clear() end
  if not out_tty then return sp end
  gl.spawn(function()
    local t0, i = gl.now(), 0
    while sp.on do
      if not pcall(gl.sleep, 0.1) then break end -- Ctrl-C: the turn ends too
      if not sp.on then break end
      i = i % #FRAMES + 1
      io.stdout:write("\r", dim_out(("%s waiting for %s  %.1f s"):format(FRAMES[i], what, gl.now() - t0)), "\27[K")
      io.stdout:flush()
      sp.shown = true
    end
  end)
  return sp
end

---------------------------------------------------------------------------
-- one turn
---------------------------------------------------------------------------

local attached = {} -- parts of /attach, sent with the next message

-- Returns "ok", "cancelled" or "failed".
local function turn(text)
  local content = text
  if #attached > 0 then
    content = { role = "user", parts = table.move(attached, 1, #attached, 1, {}) }
    content.parts[#content.parts + 1] = { text = text }
  end
  local what = state.transport == "rest" and ("REST " .. chat.chain.rest[1])
    or state.transport == "live" and ("Live " .. (chat.chain.live[1] or "?"))
    or "the answer"
  spinner = start_spinner(what)
  local wrote, ends_nl = false, true
  local ok, err = pcall(function()
    for piece, kind in assert(chat:stream(content)) do
      spinner.stop()
      if kind == "break" then
        io.stdout:write(dim_out(piece))
      else
        io.stdout:write(piece)
        wrote = true
      end
      ends_nl = piece:sub(-1) == "\n"
      io.stdout:flush()
    end
  end)
  spinner.stop()
  spinner = nil
  if wrote and not ends_nl then io.stdout:write("\n") end
  io.stdout:flush()
  if ok then attached = {} return "ok" end
  if type(err) == "table" and err.kind == "interrupted" and err.signal and err.signal ~= "SIGINT" then
    return "stopped" -- SIGTERM, SIGHUP: leave (and save) at once
  end
  if type(err) == "table" and err.kind == "interrupted" then
    note("[cancelled: the partial reply is not kept in the conversation]")
    return "cancelled"
  end
  fail_line(describe(err))
  return "failed"
end

---------------------------------------------------------------------------
-- commands
---------------------------------------------------------------------------

local commands = {}

function commands.help() print(USAGE:match("commands:.-\n\n") or USAGE) end

function commands.model(arg)
  if arg == "" then
    local names = require("gemini.chat").chain_names(chat.chain, { offline = true }) -- tier entries as "id (flex)"
    note(("REST models: %s; Live model: %s; transport: %s"):format(
      table.concat(names.rest, ", "), names.live[1] or "-", state.transport))
    return
  end
  local saved = { state.model, state.live_model }
  if models.is_live(arg) then state.live_model = arg else state.model = arg end
  local ok, err = build(chat.history)
  if not ok then
    state.model, state.live_model = saved[1], saved[2]
    return fail_line(tostring(err))
  end
  note(("model: %s (%s)"):format(arg, models.is_live(arg) and "Live" or "REST"))
end

function commands.transport(arg)
  if not TRANSPORTS[arg] then return fail_line("/transport takes live, rest or auto") end
  state.transport = arg
  chat.transport = arg
  note("transport: " .. arg)
end

function commands.system(arg)
  state.system = arg ~= "" and arg or nil
  local ok, err = build(chat.history) -- a Live session is opened again with it
  if not ok then return fail_line(tostring(err)) end
  note(state.system and "system instruction set" or "system instruction cleared")
end

function commands.save(arg)
  if arg == "" then return fail_line("/save needs a file name") end
  local ok, err = save(arg)
  if not ok then return fail_line("cannot save: " .. tostring(err)) end
  note(("saved %d messages to %s"):format(#chat.history, arg))
end

function commands.load(arg)
  if arg == "" then return fail_line("/load needs a file name") end
  local n, err = load(arg)
  if not n then return fail_line("cannot load: " .. tostring(err)) end
  note(("loaded %d messages from %s"):format(n, arg))
end

function commands.attach(arg)
  if arg == "" then return fail_line("/attach needs a file name") end
  local parts, err = gemini.files.parts({ arg })
  if not parts then return fail_line(describe(err)) end
  attached[#attached + 1] = parts[1]
  note(("attached %s (%s); it goes with your next message"):format(arg, parts[1].inlineData and "inline" or "uploaded"))
end

function commands.reset()
  chat:reset()
  note("conversation cleared")
end

commands.quit = function() return "quit" end
commands.exit = commands.quit

---------------------------------------------------------------------------
-- the loop
---------------------------------------------------------------------------

local ok, err = build()
if ok and opts.load then
  local n, lerr = load(opts.load)
  if not n then
    ok, err = nil, "--load: " .. tostring(lerr)
  elseif opts.system or opts.model or opts.transport then
    -- options on the command line win over the saved settings
    state.system = opts.system or state.system
    state.model = opts.model or state.model
    state.transport = opts.transport or state.transport
    ok, err = build(chat.history)
  end
end
if not ok then
  io.stderr:write("glrun chat: ", first_line(type(err) == "table" and err.message or err), "\n")
  os.exit(1)
end

gl.trap_interrupts(true) -- Ctrl-C cancels a reply instead of ending the run
if interactive then
  rl.load_history()
  note(("glrun chat over %s; /help for commands, Ctrl-C cancels a reply, Ctrl-D leaves"):format(
    state.transport == "auto" and "Live, falling back to REST" or state.transport == "live" and "Live" or "REST"))
end

local turns, failed, stopped = 0, 0, false
while true do
  local rok, line = pcall(rl.read, "> ")
  if not rok then
    if not (type(line) == "table" and line.kind == "interrupted") then error(line, 0) end
    -- SIGTERM, SIGHUP: leave, saving the conversation on the way out
    if line.signal and line.signal ~= "SIGINT" then stopped = true; break end
    -- Ctrl-C at the prompt: the line is dropped, a new prompt follows
  elseif line == nil then
    break
  else
    if interactive and line:match("%S") then rl.add_history(line) end
    local cmd, arg = line:match("^/(%a+)%s*(.-)%s*$")
    if cmd then
      local fn = commands[cmd]
      if not fn then
        fail_line("unknown command /" .. cmd .. " (/help lists them)")
      elseif fn(arg) == "quit" then
        break
      end
    elseif line:match("%S") then
      if line:sub(1, 2) == "//" then line = line:sub(2) end
      turns = turns + 1
      local how = turn(line)
      if how == "failed" then failed = failed + 1 end
      if how == "stopped" then stopped = true; break end
    end
  end
end

gl.trap_interrupts(false)
if interactive then rl.save_history() end
local saved_to, save_failed
if opts.save_on_exit then
  local sok, serr = save(opts.save_on_exit)
  if sok then saved_to = opts.save_on_exit
  else
    save_failed = true
    io.stderr:write("glrun chat: cannot save the conversation: ", tostring(serr), "\n")
  end
end
chat:close()
-- (stopped by SIGTERM/SIGHUP: glrun exits 143/129 whatever happened here)
if save_failed and not stopped then os.exit(1) end
if failed > 0 and not interactive then
  io.stderr:write(("glrun chat: %d of %d turns got no answer%s\n"):format(failed, turns,
    saved_to and ("; the conversation is saved in " .. saved_to) or ""))
  if not stopped then os.exit(1) end
end
