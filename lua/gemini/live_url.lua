-- gemini.live_url — where a Live session connects and how it authenticates.
--
-- The endpoint is built exactly as docs/protocol.md#live-endpoints says:
-- the base URL with ws(s)://, /ws/, and the dot form of the method
-- (`...GenerativeService.BidiGenerateContent`); ephemeral tokens use the
-- v1alpha Constrained method; Vertex AI its own service.
local M = {}

local LIVE_METHOD = "BidiGenerateContent"

--- The Live endpoint for a resolved config c (gemini.config): base URL with
--- ws(s):// and the dot form of the method (docs/protocol.md#live-endpoints).
function M.url(c, opts)
  opts = opts or {}
  local base = c.base_url:gsub("/+$", "")
  base = base:gsub("^https://", "wss://"):gsub("^http://", "ws://")
  local version, method = c.api_version or "v1beta", LIVE_METHOD
  if (c.api_key or ""):match("^auth_tokens/") then
    -- ephemeral tokens: v1alpha only, the Constrained method
    version, method = "v1alpha", "BidiGenerateContentConstrained"
  end
  version = opts.api_version or version
  if c.backend == "vertex" then
    -- Vertex AI: its own service, and a slash before the method (docs/protocol.md#vertex-live)
    return base .. "/ws/google.cloud.aiplatform." .. version .. ".LlmBidiService/BidiGenerateContent"
  end
  return base .. "/ws/google.ai.generativelanguage." .. version .. ".GenerativeService." .. method
end

--- The upgrade's auth headers for a resolved config c, or nil, err (a
--- Vertex AI token refresh failed).
function M.auth_headers(c)
  if c.backend == "vertex" then return require("gemini.auth").headers(c) end
  local key = c.api_key or ""
  if key:match("^auth_tokens/") then return { Authorization = "Token " .. key } end
  return { ["x-goog-api-key"] = key }
end

return M
