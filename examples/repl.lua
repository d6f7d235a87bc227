-- repl.lua — your own chat loop in a dozen lines: glrun.readline reads a
-- line (edited with libedit on a terminal, plain lines from a pipe) while
-- the event loop keeps running; gemini.chat keeps the conversation and
-- applies the fallback policy. `glrun chat` is the full version.
--
--   glrun --mock examples/repl.lua
--   printf 'hello\nand again\n' | glrun --mock examples/repl.lua
local readline = require "glrun.readline"
local gemini = require "gemini"

local chat = assert(gemini.chat{ transport = "rest", system = "Be brief." })
gl.trap_interrupts(true)            -- Ctrl-C cancels a reply, not the program
while true do
  local ok, line = pcall(readline.read, "you> ")
  if ok and line == nil then break end                   -- Ctrl-D / end of input
  if ok and line:match("%S") then
    readline.add_history(line)
    local sok, err = pcall(function()
      for piece in assert(chat:stream(line)) do io.write(piece); io.flush() end
    end)
    print(sok and "" or ("[" .. tostring(err.kind or err) .. "]"))
  end
end
print(("%d messages in the conversation"):format(#chat.history))
