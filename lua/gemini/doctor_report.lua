-- gemini.doctor_report — the doctor's report as text or as one JSON
-- document. Every string goes through the runtime's redaction
-- (gl.redact) on the way out, so a key or token that reached a message
-- still prints as ***.
local core = require "glrun.core"
local json = require "glrun.json"

local M = {}

--- Whether the terminal takes UTF-8 marks: the locale says UTF-8
--- (LC_ALL, else LC_CTYPE, else LANG), and NO_COLOR is unset.
function M.utf8_ok()
  if (os.getenv("NO_COLOR") or "") ~= "" then return false end
  local loc = os.getenv("LC_ALL")
  if not loc or loc == "" then loc = os.getenv("LC_CTYPE") end
  if not loc or loc == "" then loc = os.getenv("LANG") end
  loc = (loc or ""):lower()
  return loc:find("utf%-?8") ~= nil
end

local function marks(ascii)
  if ascii then return { [true] = "ok  ", [false] = "FAIL", skip = "skip" } end
  return { [true] = "✓", [false] = "✗", skip = "–" }
end

local function json_doc(report)
  local list = {}
  for i, r in ipairs(report.checks or {}) do
    list[i] = { name = r.name, ok = r.ok == nil and json.null or r.ok, saw = r.saw or json.null,
                cause = r.cause or json.null, cause_id = r.cause_id or json.null, fix = r.fix or json.null,
                ms = r.ms or json.null, skipped = r.skipped or nil }
  end
  if #list == 0 then list = json.decode("[]") end
  local doc = { ok = report.ok, ms = report.ms, backend = report.backend or json.null,
                base_url = report.base_url or json.null, api_version = report.api_version or json.null,
                checks = list }
  return assert(json.encode(doc)) .. "\n"
end

--- The report (gemini.doctor.run's) as text. opts: json (one JSON
--- document), ascii (marks without UTF-8), color (ANSI colours).
function M.render(report, opts)
  if type(report) ~= "table" then error("gemini.doctor.render: the report must be a table", 2) end
  opts = opts or {}
  if opts.json then return core.redact(json_doc(report)) end
  local mk = marks(opts.ascii)
  local function paint(code, s) return opts.color and ("\27[" .. code .. "m" .. s .. "\27[0m") or s end
  local w = 0
  for _, r in ipairs(report.checks or {}) do w = math.max(w, #r.name) end
  local out = {}
  local head = "glrun doctor: " .. tostring(report.backend or "?")
  if report.base_url then head = head .. " at " .. report.base_url .. " (" .. tostring(report.api_version) .. ")" end
  out[#out + 1] = head
  local failed, skipped = 0, 0
  local pad = string.rep(" ", (opts.ascii and 4 or 1) + 1 + w + 2)
  for _, r in ipairs(report.checks or {}) do
    local m
    if r.ok == true then m = paint("32", mk[true])
    elseif r.ok == false then m = paint("31", mk[false]); failed = failed + 1
    else m = paint("2", mk.skip); skipped = skipped + 1 end
    local ms = r.ms and ("  (" .. r.ms .. " ms)") or ""
    out[#out + 1] = ("%s %-" .. w .. "s  %s%s"):format(m, r.name, r.saw or "", ms)
    if r.cause and r.ok == false then out[#out + 1] = pad .. "cause: " .. r.cause end
    if r.fix and r.ok == false then out[#out + 1] = pad .. "fix: " .. r.fix end
  end
  local n = #(report.checks or {})
  out[#out + 1] = ("%d checks: %d failed%s (%d ms)%s"):format(n, failed,
    skipped > 0 and (", " .. skipped .. " skipped") or "", report.ms or 0,
    report.ok and " - a default chat has what it needs" or "")
  return core.redact(table.concat(out, "\n") .. "\n")
end

return M
