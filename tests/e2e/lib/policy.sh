# Helpers of the glrun policy CLI tests (tests/e2e/policy_cli_*.sh), on top of sh.sh.

# write_never_policy FILE: a policy that classifies as the default one does
# but never retries nor falls back (every failure fails, "(never retries)")
write_never_policy() {
  cat >"$1" <<'L'
local default = require "gemini.policy"
return { classify = function(err, at, p)
  local d = default.classify(err, at, p)
  return { action = "fail", reason = d.reason .. " (never retries)" }
end }
L
}
