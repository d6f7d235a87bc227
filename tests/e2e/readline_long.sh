# glrun.readline with long lines and many lines, without a terminal: every
# byte comes back exactly, through a pipe and from a file. (Reading a long
# line was once quadratic in its length: a 20 MB line took 3.2 s, 100 MB
# over 2 minutes; bench/sizes times it. Here only correctness, with a
# generous bound.)
. "$(dirname "$0")/lib/sh.sh"
cat > "$TMP/count.lua" <<'LUA'
local rl = require "glrun.readline"
local lens = {}
while true do
  local l = rl.read()
  if not l then break end
  lens[#lens + 1] = #l .. (l:find("\r", 1, true) and "r" or "") .. (l:find("\n", 1, true) and "n" or "")
end
print(#lens .. " " .. table.concat(lens, " ", 1, math.min(#lens, 6)))
LUA

# one 20 MB line, then a CRLF line and a last line without a newline
{ head -c 20000000 /dev/zero | tr '\0' x; printf '\nab\r\nlast'; } | timeout 120 "$GLRUN" "$TMP/count.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "pipe: a 20 MB line read back whole, then the short ones" "0 3 20000000 2 4" "$RC $(cat "$TMP/out")"

# the same from a file (read without polling)
{ head -c 20000000 /dev/zero | tr '\0' y; printf '\nab\r\nlast'; } >"$TMP/big"
timeout 120 "$GLRUN" "$TMP/count.lua" <"$TMP/big" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "file: a 20 MB line read back whole, then the short ones" "0 3 20000000 2 4" "$RC $(cat "$TMP/out")"

# a long line with no newline at all (the end of input ends it)
head -c 5000000 /dev/zero | tr '\0' z | timeout 120 "$GLRUN" "$TMP/count.lua" >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "pipe: a 5 MB last line without a newline" "0 1 5000000" "$RC $(cat "$TMP/out")"

# many short lines after a long one: none lost, none merged
{ head -c 1000000 /dev/zero | tr '\0' w; echo; seq 1 200000; } | timeout 120 "$GLRUN" -e '
  local rl = require "glrun.readline"
  local first, n, sum = #rl.read(), 0, 0
  while true do local l = rl.read(); if not l then break end; n = n + 1; sum = sum + tonumber(l) end
  print(first, n, sum)' >"$TMP/out" 2>"$TMP/err"; RC=$?
expect_eq "pipe: 200000 short lines after a 1 MB one" "0 $(printf '1000000\t200000\t20000100000')" "$RC $(cat "$TMP/out")"
finish
