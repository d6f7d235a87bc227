# A Live server that streams one answer for ever (hostile mode
# proc-live-flood): glrun's memory stays bounded and the turn fails with a
# clear error (kind "too_large", the partial answer kept) instead of
# growing until the machine runs out (1.85 GB in 18 s before the cap).
. "$(dirname "$0")/lib/sh.sh"
HOSTILE_LIFETIME=120 start_hostile proc-live-flood

cat > "$TMP/flood.lua" <<'LUA'
local live = require "gemini.live"
local LIMIT = 256 * 1024   -- KiB: far above what a bounded session needs, far below the flood
local function rss()
  local f = assert(io.open("/proc/self/status"))
  local kb = tonumber(f:read("a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return kb
end
local s = assert(live.connect{ model = "gemini-live-text-test", modality = "text" })
assert(s:send_text("hello"))
local max, n, bytes = rss(), 0, 0
local ok, err = pcall(function()
  for ev in s:events{ timeout = 30 } do
    n = n + 1
    if ev.text then bytes = bytes + #ev.text end
    if n % 16 == 0 then
      max = math.max(max, rss())
      if max > LIMIT then error(("RSS passed %d KiB after %d bytes of text"):format(LIMIT, bytes), 0) end
    end
    if n > 100000 then error("the turn never failed", 0) end
  end
end)
max = math.max(max, rss())
print("kind", type(err) == "table" and err.kind or tostring(err))
print("partial", type(err) == "table" and type(err.partial) == "string" and #err.partial or -1)
print("limit", type(err) == "table" and err.limit or -1)
print("bounded", max <= LIMIT, max)
print("message", type(err) == "table" and err.message or "")
s:close()
LUA
run "$GLRUN" "$TMP/flood.lua"; printf "%s\n" "$OUT" >&2
expect_eq "flood: the script ends by itself" 0 "$RC"
expect_match "flood: the turn fails as too_large" "^kind	too_large" "$OUT"
expect_match "flood: memory stays bounded" "bounded	true" "$OUT"
expect_match "flood: the error names the cap" "message	.*max_turn_bytes" "$OUT"
partial=$(printf '%s\n' "$OUT" | sed -n 's/^partial	//p')
limit=$(printf '%s\n' "$OUT" | sed -n 's/^limit	//p')
if [ -n "$partial" ] && [ -n "$limit" ] && [ "$partial" -gt 0 ] && [ "$partial" -le "$limit" ]; then
  ok "flood: the partial answer is kept, within the cap"
else bad "flood: partial [$partial] limit [$limit]"; fi

# the chat flows: one clear line, exit 1
run "$GLRUN" ask --transport live hi
expect_eq "flood: ask over Live exits 1" 1 "$RC"
expect_match "flood: and says the answer was too large" "passed [0-9]+ bytes without turnComplete" "$ERR"
finish
