# The command line reaches Lua through glrun.core.options, never through the
# process environment: children of io.popen inherit nothing from --mock,
# --replay or --redis, and the options are read-only.
. "$(dirname "$0")/lib/sh.sh"
clean_env
cat > "$TMP/s.lua" <<'L'
local core = require "glrun.core"
print("ENV", os.getenv("GLRUN_MOCK"), os.getenv("GLMOCK_URL"), os.getenv("GLRUN_REPLAY"), os.getenv("GLRUN_REDIS_URL"))
local child = io.popen("env"):read("a")
print("CHILD", (child:match("GLRUN_MOCK") or child:match("GLRUN_REPLAY") or child:match("GLRUN_REDIS_URL") or "none"), (child:match("GLMOCK_URL") or "none"))
print("OPT", core.options.mock, core.options.mock_url ~= nil, core.options.redis)
print("RO", pcall(function() core.options.mock = false end), core.options.mock)
print("ANSWER", gemini.ask("options"))
L
run "$GLRUN" --mock --redis redis://127.0.0.1:1 "$TMP/s.lua"
expect_eq "exit status" 0 "$RC"
expect_match "no GLRUN_/GLMOCK_ variable in glrun's own environment" "^ENV	nil	nil	nil	nil$" "$OUT"
expect_match "no GLRUN_/GLMOCK_ variable in a child's environment" "CHILD	none	none" "$OUT"
expect_match "the options carry --mock and --redis" "OPT	true	true	redis://127.0.0.1:1" "$OUT"
expect_match "options are read-only" "RO	false	true" "$OUT"
expect_match "--mock still answers" "ANSWER	echo: options" "$OUT"
run "$GLRUN" --mock -e 'print(os.getenv("GLRUN_MOCK"))'
expect_eq "glrun --mock -e 'print(os.getenv(\"GLRUN_MOCK\"))' prints nil" "nil" "$OUT"
finish
