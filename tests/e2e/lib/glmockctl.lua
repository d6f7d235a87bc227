-- Controls glmock's scenarios from the *.lua end-to-end tests (not a test
-- itself): tests/glmock/README.md, "Scenarios".
--   local ctl = require "glmockctl"
--   ctl.scenario{ {match = {...}, count = 1, fault = {...}} }   -- replace the rules
--   ctl.scenario()                                               -- clear them
--   ctl.counters()                                               -- request counters
local http = require "glrun.http"
local json = require "glrun.json"

local M = {}
local function url() return assert(gl.options.mock_url, "not under --mock") .. "/glmock/scenario" end

function M.scenario(rules)
  assert(http.request{ method = "DELETE", url = url() })
  if rules then
    local res = assert(http.request{ method = "POST", url = url(), body = json.encode(rules),
                                     headers = { ["Content-Type"] = "application/json" } })
    assert(res.status == 200, res.body)
  end
end

function M.counters()
  return json.decode(assert(http.request{ url = url() }).body).counters
end

return M
