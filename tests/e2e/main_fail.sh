# The main script's failure stops the run at once: its error is printed and
# glrun exits 1, even when tasks it started still wait (on a socket that
# never gets a client, a long sleep, a task that catches the stop and waits
# again); those tasks are cancelled, not reported one by one. A spawned
# task's failure does not stop the main script.
. "$(dirname "$0")/lib/sh.sh"
clean_env
cd "$TMP"

cat >fail.lua <<'LUA'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0 })
gl.spawn(function() srv:accept() end)            -- no client ever comes
gl.spawn(function() gl.sleep(600) end)
gl.spawn(function()                              -- catches the stop, waits again
  local ok = pcall(gl.sleep, 600)
  gl.sleep(600)
end)
gl.sleep(0.05)
error("the script's own failure")
LUA
a=$(date +%s)
run "$GLRUN" fail.lua
b=$(date +%s)
expect_eq "main failed: exit 1" 1 "$RC"
expect_match "main failed: its error printed" "fail.lua:10: the script's own failure" "$ERR"
expect_no_match "main failed: no deadlock message" "deadlock" "$ERR"
expect_no_match "main failed: cancelled tasks not reported one by one" "glrun is stopping" "$ERR"
if [ $((b - a)) -lt 50 ]; then ok "main failed: glrun did not wait for its tasks"; else bad "main failed: took $((b - a)) s"; fi

# a spawned task's failure: reported at the end, the main script goes on
run "$GLRUN" -e '
gl.spawn(function() error("spawned task failure") end)
gl.sleep(0.05)
print("main goes on")'
expect_eq "spawned failure: exit 1" 1 "$RC"
expect_match "spawned failure: main went on" "main goes on" "$OUT"
expect_match "spawned failure: reported" "spawned task failure" "$ERR"
finish
