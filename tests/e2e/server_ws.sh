#!/usr/bin/env bash
# glrun.server's WebSocket side with node's ws package as the client: the
# JS SDK's Live path (a doubled leading slash) reaches the handler as sent;
# text, binary and fragmented messages echo with their kind; a ping is
# answered; the client's
# close code and reason reach recv's error; a message over max_ws_message
# closes with 1009; a refused upgrade is an HTTP status; a protocol error
# (an unmasked client frame, a close frame whose payload is 1 byte) closes
# with 1002; frames split one byte per
# TCP write are put together. Backpressure both ways: a
# client that stops reading holds the handler's send() (bounded queue); a
# client that floods pauses reading until the handler catches up.
. "$SRC/tests/e2e/lib/sh.sh"
. "$SRC/tests/e2e/lib/server.sh"
need_node_ws

cat >"$TMP/srv.lua" <<'EOF'
local server = require "glrun.server"
local srv = assert(server.listen{ port = 0, max_ws_message = 65536 })
print("PORT " .. srv:port()); io.stdout:flush()
local function say(s) print(s); io.stdout:flush() end
while true do
  local req = srv:accept()
  if not req then break end
  gl.spawn(function()
    if req.path == "/quit" then
      req:respond(200, {}, "bye\n")
      srv:close()
    elseif not req.websocket then
      req:respond(400, {}, "not a websocket\n")
    elseif req.path == "/refuse" then
      req:respond(404, { ["Content-Type"] = "text/plain" }, "no live here\n")
    elseif req.path == "/flood" then
      -- 200 messages of 64 KiB to a client that stops reading for a while
      local ws = assert(req:upgrade())
      local msg = ("m"):rep(65536)
      for _ = 1, 200 do assert(ws:send(msg, "binary")) end
      say(("FLOOD sent out_queued_max=%d"):format(ws:stats().out_queued_max))
      local m, err = ws:recv()
      say("FLOOD end " .. tostring(m or err.code))
    elseif req.path == "/pause" then
      -- the client sends 19 MiB the handler does not read at first
      local ws = assert(req:upgrade())
      local st
      for _ = 1, 600 do st = ws:stats(); if st.paused then break end gl.sleep(0.05) end
      say(("PAUSE paused=%s in_bytes=%d"):format(tostring(st.paused), st.in_bytes))
      local n = 0
      while n < 300 do
        local m = ws:recv()
        if not m then break end
        n = n + 1
      end
      say("PAUSE got " .. n)
      ws:send("thanks")
      ws:recv()
    else
      say("PATH " .. req.path .. " QUERY " .. req.query)
      local ws = assert(req:upgrade(req:header("sec-websocket-protocol")))
      while true do
        local m, kind = ws:recv()
        if not m then
          say(("END kind=%s code=%s reason=%s"):format(kind.kind, kind.code, kind.reason))
          break
        end
        say(("MSG %s %d"):format(kind, #m))
        assert(ws:send(m, kind))
      end
    end
  end)
end
EOF

cat >"$TMP/client.js" <<'EOF'
const WS = require(process.env.SRC + '/bench/node_modules/ws');
const base = process.argv[2], mode = process.argv[3];
const out = (s) => console.log(s);
const w = new WS(base + (mode === 'refuse' ? '/refuse' :
  '//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=k%2B1'));
w.on('unexpected-response', (req, res) => { out('HTTP ' + res.statusCode); process.exit(0); });
w.on('error', (e) => out('ERROR ' + e.message));
w.on('pong', (d) => out('PONG ' + d.toString()));
w.on('close', (code, reason) => { out('CLOSE ' + code + ' ' + reason.toString()); process.exit(0); });
const got = [];
w.on('message', (data, isBinary) => {
  got.push((isBinary ? 'binary:' : 'text:') + (isBinary ? data.toString('hex') : data.toString()));
  if (mode === 'echo' && got.length === 3) {
    got.forEach(out);
    w.close(4001, 'done here');
  }
});
w.on('open', () => {
  if (mode === 'echo') {
    w.ping('p1');
    w.send('hello');
    w.send(Buffer.from([0, 1, 2, 255]));
    w.send('frag-one ', { fin: false });
    w.send('frag-two', { fin: true });
  } else if (mode === 'big') {
    w.send('x'.repeat(100000));
  } else if (mode === 'unmasked') {
    // write a frame without a mask straight to the socket
    w._socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
  } else if (mode === 'badclose') {
    // a close frame with a 1-byte payload (masked with zeros): not a code
    w._socket.write(Buffer.from([0x88, 0x81, 0, 0, 0, 0, 0x03]));
  }
});
setTimeout(() => { out('TIMEOUT'); process.exit(1); }, 30000);
EOF

cat >"$TMP/slow.js" <<'EOF'
const WS = require(process.env.SRC + '/bench/node_modules/ws');
const base = process.argv[2], mode = process.argv[3];
const w = new WS(base + '/' + mode);
let got = 0;
w.on('open', () => {
  if (mode === 'flood') {
    w._socket.pause();                       // a reader that falls behind
    setTimeout(() => w._socket.resume(), 1500);
  } else {
    const m = Buffer.alloc(65536, 7);
    for (let i = 0; i < 300; i++) w.send(m);
  }
});
w.on('message', (d) => {
  got += d.length;
  if (mode === 'flood' && got >= 200 * 65536) { console.log('GOT ' + got); w.close(1000); }
  if (mode === 'pause') { console.log('GOT ' + d.toString()); w.close(1000); }
});
w.on('close', () => process.exit(0));
w.on('error', (e) => { console.log('ERROR ' + e.message); process.exit(1); });
setTimeout(() => { console.log('TIMEOUT ' + got); process.exit(1); }, 60000);
EOF

# a client that sends its frames one byte per TCP write (a 300-byte text
# message: a 16-bit length; then a ping; then a close), by hand
cat >"$TMP/trickle.js" <<'EOF'
const net = require('net');
const port = +process.argv[2];
const s = net.connect(port, '127.0.0.1');
s.setNoDelay(true);
const mask = Buffer.from([1, 2, 3, 4]);
function frame(op, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | op, 0x80 | len])
                         : Buffer.from([0x80 | op, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([head, mask, body]);
}
let buf = Buffer.alloc(0), upgraded = false;
s.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  if (!upgraded) {
    const i = buf.indexOf('\r\n\r\n');
    if (i < 0) return;
    upgraded = true;
    buf = buf.subarray(i + 4);
    const msg = Buffer.from('t'.repeat(300));
    const bytes = Buffer.concat([frame(1, msg), frame(9, Buffer.from('pp'))]);
    let k = 0;
    const next = () => { if (k < bytes.length) { s.write(bytes.subarray(k, k + 1)); k++; setTimeout(next, 2); } };
    next();
  }
  // the echo (text, 300 bytes: 0x81 0x7e 0x01 0x2c) and the pong (0x8a 0x02 pp)
  if (buf.length >= 304 + 4) {
    const ok = buf[0] === 0x81 && buf[1] === 126 && (buf[2] << 8 | buf[3]) === 300 &&
               buf.subarray(4, 304).toString() === 't'.repeat(300);
    const pong = buf.subarray(304, 308);
    console.log('ECHO ' + (ok ? 'ok' : 'bad') + ' PONG ' + (pong[0] === 0x8a && pong.subarray(2).toString() === 'pp' ? 'ok' : 'bad'));
    s.write(frame(8, Buffer.from([0x03, 0xe8])));
    s.end();
    process.exit(0);
  }
});
s.write('GET /trickle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
setTimeout(() => { console.log('TIMEOUT ' + buf.length); process.exit(1); }, 30000);
EOF

start_srv "$TMP/srv.lua"
WSBASE="ws://127.0.0.1:$SRV_PORT"

OUT=$(SRC=$SRC timeout 60 node "$TMP/client.js" "$WSBASE" echo 2>&1)
expect_match "text echo" "^text:hello$" "$OUT"
expect_match "binary echo keeps the kind" "binary:000102ff" "$OUT"
expect_match "fragmented message reassembled" "text:frag-one frag-two" "$OUT"
expect_match "client's close completes" "CLOSE 4001" "$OUT"
expect_match "ping answered with its payload" "^PONG p1$" "$OUT"
wait_for "$TMP/srv.out" '^END' 30
expect_match "Live path kept as sent (doubled slash, raw query)" \
  "^PATH //ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent QUERY key=k%2B1$" \
  "$(grep '^PATH' "$TMP/srv.out" | head -1)"
expect_eq "close code and reason reach recv's error" "END kind=closed code=4001 reason=done here" \
  "$(grep '^END' "$TMP/srv.out" | head -1)"

OUT=$(SRC=$SRC timeout 60 node "$TMP/client.js" "$WSBASE" big 2>&1)
expect_match "big message: 1009" "CLOSE 1009" "$OUT"
OUT=$(SRC=$SRC timeout 60 node "$TMP/client.js" "$WSBASE" refuse 2>&1)
expect_eq "refused upgrade: the handler's status" "HTTP 404" "$OUT"
OUT=$(SRC=$SRC timeout 60 node "$TMP/client.js" "$WSBASE" unmasked 2>&1)
expect_match "unmasked client frame: 1002" "CLOSE 1002" "$OUT"
OUT=$(SRC=$SRC timeout 60 node "$TMP/client.js" "$WSBASE" badclose 2>&1)
expect_match "close frame with a 1-byte payload: 1002" "CLOSE 1002" "$OUT"

OUT=$(timeout 60 node "$TMP/trickle.js" "$SRV_PORT" 2>&1)
expect_eq "frames one byte per write: echo and pong" "ECHO ok PONG ok" "$OUT"

# backpressure both ways
OUT=$(SRC=$SRC timeout 90 node "$TMP/slow.js" "$WSBASE" flood 2>&1)
expect_eq "slow WebSocket reader: all 200 messages arrive" "GOT 13107200" "$OUT"
if wait_for "$TMP/srv.out" '^FLOOD sent' 30; then
  q=$(sed -n 's/^FLOOD sent out_queued_max=//p' "$TMP/srv.out")
  # the bound is 64 KiB; one 64 KiB message (and its header) may pass it
  if [ "$q" -le 140000 ]; then ok "slow WebSocket reader: send queue bounded ($q bytes)"
  else bad "slow WebSocket reader: send queue reached $q bytes"; fi
else bad "slow WebSocket reader: the handler never finished sending"; fi
OUT=$(SRC=$SRC timeout 90 node "$TMP/slow.js" "$WSBASE" pause 2>&1)
expect_eq "a flooding client: everything delivered once the handler reads" "GOT thanks" "$OUT"
wait_for "$TMP/srv.out" '^PAUSE got' 30
line=$(grep '^PAUSE paused' "$TMP/srv.out")
inb=$(echo "$line" | sed 's/.*in_bytes=//')
if echo "$line" | grep -q 'paused=true' && [ "$inb" -le 4400000 ]; then
  ok "a flooding client: reading paused with $inb bytes queued"
else bad "a flooding client: [$line]"; fi
expect_eq "a flooding client: all 300 messages" "PAUSE got 300" "$(grep '^PAUSE got' "$TMP/srv.out")"

quit_srv "server"
expect_eq "every upgraded session ended in recv" "5" "$(grep -c '^END' "$TMP/srv.out")"
finish
