-- A cost-aware policy: answers over REST on the cheapest tier that works.
-- Use it with:
--
--   glrun --policy examples/policies/cost_aware.lua chat
--   glrun policy test --policy examples/policies/cost_aware.lua   # before trusting it
--
-- * No Live: a text chat goes straight to REST (no WebSocket session to
--   keep open, no audio tokens).
-- * The flash-lite model on the flex tier first (half price; it may queue,
--   so a flex request waits at most two minutes), then flash-lite on the
--   standard tier, then flash.
-- * A rate limit that asks for more than 10 s moves to the next entry
--   instead of waiting; one retry per model, not three.
-- Everything else keeps the defaults of gemini.policy (docs/policy.md).
local default = require "gemini.policy"

local P = {}

P.transports = { "rest" }
P.chain = {
  live = {},
  rest = {
    { method = "generateContent", family = "flash-lite", tier = "flex" },
    { method = "generateContent", family = "flash-lite" },
    { method = "generateContent", family = "flash" },
  },
}
P.flex_timeout = 120
P.max_retries_per_model = 1

function P.classify(err, at, p)
  local d = default.classify(err, at, p)
  if d.action == "retry" and type(err) == "table" and (err.retry_after or 0) > 10 then
    return { action = "fallback", reason = d.reason .. (" (this policy does not wait %g s: next model)"):format(err.retry_after),
             diagnosis = d.diagnosis }
  end
  return d
end

return P
