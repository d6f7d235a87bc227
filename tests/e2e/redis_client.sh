#!/usr/bin/env bash
# glrun.redis against a real redis-server: replies as Lua values, error
# replies and connection failures as nil, err, close idempotent, bad URLs,
# a wrong password that never shows, timeouts that do not poison.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/redis.sh"
clean_env
start_redis
redis-cli -p "$REDIS_PORT" config set requirepass 's3cr3t-pw' >/dev/null
cat >"$TMP/t.lua" <<'L'
local redis = require "glrun.redis"
local port = arg[1]
local url = "redis://:s3cr3t-pw@127.0.0.1:" .. port .. "/3"
local c = assert(redis.connect(url))
local function check(what, cond) print((cond and "ok - " or "not ok - ") .. what) end
check("tostring shows host:port/db, no password", tostring(c) == "redis.conn 127.0.0.1:" .. port .. "/3")
check("status reply", c:command("SET", "k", 41) == "OK")
check("integer reply", c:command("INCR", "k") == 42 and math.type(c:command("INCR", "k")) == "integer")
check("bulk string reply", c:command("GET", "k") == "43")
local v, e = c:command("GET", "missing")
check("nil reply is nil without an error", v == nil and e == nil)
check("binary-safe strings", c:command("SET", "b", "a\0b") == "OK" and c:command("GET", "b") == "a\0b")
local arr = c:command("EVAL", "return {1, 'x', false, {2}}", 0)
check("array reply", type(arr) == "table" and arr[1] == 1 and arr[2] == "x" and arr[3] == false and arr[4][1] == 2)
local r, err = c:command("HGET")
check("error reply is nil, err kind redis", r == nil and err.kind == "redis" and tostring(err):find("wrong number", 1, true))
check("the connection still works after an error reply", c:command("PING") == "PONG")
check("SELECT from the URL (db 3)", c:command("CLIENT", "INFO"):find("db=3", 1, true) ~= nil)
-- concurrent commands from several tasks on one connection
local ts = {}
for i = 1, 20 do ts[i] = gl.spawn(function() return c:command("INCR", "n") end) end
local seen = {}
for i = 1, 20 do seen[ts[i]:join()] = true end
local all = true
for i = 1, 20 do all = all and seen[i] end
check("20 tasks share one connection", all)
-- a slow reply times out without poisoning the connection
local slow = assert(redis.connect{ url = url, timeout = 0.2 })
local r2, e2 = slow:command("BLPOP", "nothing-here", "0.6")
check("a slow reply is a timeout", r2 == nil and e2.kind == "timeout")
gl.sleep(0.6)
check("the connection works after a timeout", slow:command("PING") == "PONG")
slow:close()
check("misuse raises: a table argument", not pcall(c.command, c, "SET", {}))
c:close(); c:close()
check("close is idempotent, tostring says closed", tostring(c) == "redis.conn (closed)")
check("a command after close raises", not pcall(c.command, c, "PING"))
do local cc <close> = assert(redis.connect(url)) end
local w, we = redis.connect("redis://:wrong-pw@127.0.0.1:" .. port .. "/0")
check("wrong password: nil, err kind connect", w == nil and we.kind == "connect")
check("the error says why without the password", tostring(we):find("WRONGPASS", 1, true) ~= nil
  and not tostring(we):find("wrong-pw", 1, true))
local n1, ne1 = redis.connect("redis://127.0.0.1:1/0")
check("refused: nil, err kind connect", n1 == nil and ne1.kind == "connect" and tostring(ne1):find("refused"))
local n2, ne2 = redis.connect("rediss://127.0.0.1:" .. port)
check("rediss:// says TLS is unsupported", n2 == nil and tostring(ne2):find("not supported", 1, true))
local n3, ne3 = redis.connect("http://x")
check("a non-redis URL is a config error", n3 == nil and ne3.kind == "config")
local n4, ne4 = redis.connect("redis://127.0.0.1:99999")
check("a bad port is a config error", n4 == nil and ne4.kind == "config")
L
run "$GLRUN" "$TMP/t.lua" "$REDIS_PORT"
echo "$OUT"
expect_eq "the script exits 0" 0 "$RC"
expect_no_match "every check passed" "not ok" "$OUT"
expect_match "all checks ran" "a bad port is a config error" "$OUT"
expect_no_match "the password never appears" "s3cr3t-pw|wrong-pw" "$OUT$ERR"
# REDISCLI_AUTH supplies the password
run env REDISCLI_AUTH=s3cr3t-pw "$GLRUN" -e "local c = assert(require('glrun.redis').connect('redis://127.0.0.1:$REDIS_PORT')); print(c:command('PING'))"
expect_eq "REDISCLI_AUTH is the password" "PONG" "$OUT"
finish
