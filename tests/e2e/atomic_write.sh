# glrun.atomic: files glrun writes for the user (chat saves, batch results,
# downloads, the model cache) are written whole or not at all, and a device
# such as /dev/null is written in place, never renamed over (as root that
# replaced /dev/null with a plain file).
. "$(dirname "$0")/lib/sh.sh"
run "$GLRUN" -e '
local atomic = require "glrun.atomic"
local path = arg[1]
assert(atomic.write(path, "first\n"))
local w = assert(atomic.open(path))
w:write("half")
w:abort()
io.write(io.open(path):read("a"))
local ok, err = atomic.write(arg[2], "x")
print(ok, err and err.kind, err and err.message:find(arg[2], 1, true) ~= nil)
assert(atomic.write("/dev/null", "into the device\n"))
print(require("glrun.core").file_kind("/dev/null"))
' /dev/null "$TMP/a.txt" "$TMP/no/such/dir/b.txt"
expect_eq "glrun.atomic exits 0" 0 "$RC"
expect_eq "an aborted write leaves the file; a failed one is an io error naming the path; /dev/null stays a device" \
  "first
nil	io	true
char" "$OUT"
expect_eq "no temporary file left beside the target" "a.txt" "$(ls "$TMP" | grep '^a\.txt' | tr '\n' ' ' | sed 's/ $//')"
[ -c /dev/null ] && ok "/dev/null is still a character device" || bad "/dev/null is no longer a device"
finish
