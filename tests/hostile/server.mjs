// glhostile: a deliberately hostile HTTP/WebSocket server for the tests.
//
//   node tests/hostile/server.mjs MODE [ARG...]
//
// Listens on 127.0.0.1 (a free port), prints "http://127.0.0.1:PORT" on
// stdout, then answers every connection with the behaviour of MODE, a file
// tests/hostile/modes/MODE.mjs. It exits by itself after HOSTILE_LIFETIME
// seconds (default 120) so a test that forgets it never leaves it behind.
// Every request line it receives is appended to $HOSTILE_LOG when set (one
// JSON object per line: method, path, headers), so a test can check what
// glrun sent.
//
// A mode file exports `default function (ctx)`, called once per request
// with a fully read request head (and body, when Content-Length says so):
//   ctx.sock            the net.Socket (write raw bytes, end, destroy)
//   ctx.req             { method, path, headers (lower-case names), body: Buffer }
//   ctx.args            the extra command-line arguments
//   ctx.key             the API key the client sent (x-goog-api-key or ?key=)
//   ctx.isUpgrade       true for a WebSocket upgrade request
//   ctx.accept()        answers the upgrade with 101 (valid Sec-WebSocket-Accept)
//   ctx.frame(op, payload, {fin=true, rsv=0, mask=false}) -> Buffer of one frame
//   ctx.readFrames(cb)  calls cb({op, payload: Buffer, fin}) for each client frame
//   ctx.state           an object shared by every connection of this server
// A mode that returns without ending the socket keeps it open.
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [mode, ...args] = process.argv.slice(2);
if (!mode) { console.error('usage: server.mjs MODE [ARG...]'); process.exit(2); }
const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.join(here, 'modes', `${mode}.mjs`);
if (!fs.existsSync(file)) { console.error(`server.mjs: no mode ${mode} (${file})`); process.exit(2); }
const handler = (await import(pathToFileURL(file).href)).default;
const lifetime = Number(process.env.HOSTILE_LIFETIME || 120);
const logFile = process.env.HOSTILE_LOG;
const state = {};
const MAX_HEAD = 64 * 1024, MAX_BODY = 64 * 1024 * 1024;

function frame(op, payload = Buffer.alloc(0), o = {}) {
  if (typeof payload === 'string') payload = Buffer.from(payload);
  const fin = o.fin === undefined ? true : o.fin, rsv = o.rsv || 0, mask = !!o.mask;
  const n = payload.length;
  const head = [((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (op & 0x0f))];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 255);
  else { head.push(m | 127, 0, 0, 0, 0); const b = Buffer.alloc(4); b.writeUInt32BE(n); head.push(...b); }
  let body = payload;
  const parts = [Buffer.from(head)];
  if (mask) {
    const k = crypto.randomBytes(4); parts.push(k);
    body = Buffer.from(payload.map((c, i) => c ^ k[i & 3]));
  }
  parts.push(body);
  return Buffer.concat(parts);
}

function frameReader(sock, cb, initial) {
  let buf = initial || Buffer.alloc(0);
  const pump = () => {
    for (;;) {
      if (buf.length < 2) return;
      const fin = !!(buf[0] & 0x80), op = buf[0] & 0x0f, masked = !!(buf[1] & 0x80);
      let n = buf[1] & 0x7f, off = 2;
      if (n === 126) { if (buf.length < 4) return; n = buf.readUInt16BE(2); off = 4; }
      else if (n === 127) { if (buf.length < 10) return; n = Number(buf.readBigUInt64BE(2)); off = 10; }
      const need = off + (masked ? 4 : 0) + n;
      if (buf.length < need) return;
      let payload = buf.subarray(off + (masked ? 4 : 0), need);
      if (masked) { const k = buf.subarray(off, off + 4); payload = Buffer.from(payload.map((c, i) => c ^ k[i & 3])); }
      buf = buf.subarray(need);
      cb({ op, payload, fin });
    }
  };
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); pump(); });
  pump();
}

const server = net.createServer((sock) => {
  sock.on('error', () => {});
  let head = Buffer.alloc(0);
  const onHead = (d) => {
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) { if (head.length > MAX_HEAD) sock.destroy(); return; }
    sock.removeListener('data', onHead);
    const lines = head.subarray(0, end).toString('latin1').split('\r\n');
    const [method, target] = lines[0].split(' ');
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let rest = head.subarray(end + 4);
    const isUpgrade = /websocket/i.test(headers.upgrade || '');
    const url = new URL(target, 'http://x');
    const key = headers['x-goog-api-key'] || url.searchParams.get('key') || '';
    const req = { method, path: target, headers, body: Buffer.alloc(0) };
    if (logFile) fs.appendFileSync(logFile, JSON.stringify({ method, path: target, headers }) + '\n');
    const ctx = {
      sock, req, args, key, isUpgrade, state, frame,
      accept() {
        const acc = crypto.createHash('sha1')
          .update(headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${acc}\r\n\r\n`);
      },
      readFrames(cb) { frameReader(sock, cb, rest); rest = null; },
    };
    const want = isUpgrade ? 0 : Math.min(Number(headers['content-length'] || 0), MAX_BODY);
    const go = () => { try { handler(ctx); } catch (e) { console.error(e); sock.destroy(); } };
    if (rest.length >= want) { req.body = rest.subarray(0, want); rest = rest.subarray(want); go(); return; }
    const chunks = [rest];
    let got = rest.length;
    const onBody = (d) => {
      chunks.push(d); got += d.length;
      if (got >= want) { sock.removeListener('data', onBody); req.body = Buffer.concat(chunks).subarray(0, want); rest = Buffer.alloc(0); go(); }
    };
    sock.on('data', onBody);
  };
  sock.on('data', onHead);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
setTimeout(() => process.exit(0), lifetime * 1000).unref();
