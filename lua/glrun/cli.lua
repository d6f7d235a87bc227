-- glrun.cli — command-line options of the built-in flows (glrun ask,
-- glrun chat): --name VALUE and --name=VALUE, flags, --help/-h, `--`,
-- and `-` as a word. A usage error prints two lines and exits 2.
local M = {}

--- Print "NAME: msg" and "Try 'NAME --help'." on stderr, exit 2.
--- Whether to colour what goes to file descriptor fd: a terminal, TERM not
--- "dumb", and NO_COLOR unset or empty (no-color.org).
function M.color(fd)
  if (os.getenv("NO_COLOR") or "") ~= "" or os.getenv("TERM") == "dumb" then return false end
  return require("glrun.core").isatty(fd)
end

function M.usage_error(name, msg)
  io.stderr:write(name, ": ", msg, "\nTry '", name, " --help'.\n")
  os.exit(2)
end

--- parse(args, spec) -> opts, words. spec: name ("glrun ask"), usage (the
--- --help text), values ({["--model"] = "model", ...}: options that take a
--- value), flags ({["--json"] = "json"}), lists ({["-f"] = "files"}:
--- options that may repeat; opts.files is the list of their values), words
--- (true: positional words are allowed; otherwise any non-option is an error).
function M.parse(args, spec)
  local opts, words = {}, {}
  local values, flags, lists = spec.values or {}, spec.flags or {}, spec.lists or {}
  local only_words, i = false, 1
  local function fail(msg) M.usage_error(spec.name, msg) end
  while i <= #args do
    local a = args[i]
    local name, val = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if spec.words and (only_words or a == "-" or a:sub(1, 1) ~= "-") then
      words[#words + 1] = a
    elseif spec.words and a == "--" then
      only_words = true
    elseif name == "--help" or name == "-h" then
      print(spec.usage)
      os.exit(0)
    elseif flags[name] then
      opts[flags[name]] = true
    elseif values[name] or lists[name] then
      if not val then
        i = i + 1
        val = args[i]
        if not val then fail("option '" .. name .. "' needs a value") end
      end
      if lists[name] then
        local l = opts[lists[name]] or {}
        l[#l + 1] = val
        opts[lists[name]] = l
      else
        opts[values[name]] = val
      end
    else
      fail((spec.words and "unknown option '" or "unknown argument '") .. a .. "'")
    end
    i = i + 1
  end
  return opts, words
end

return M
