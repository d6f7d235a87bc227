// Accepts the WebSocket upgrade, waits for the client's first frame (the
// Live setup), then sends one frame that breaks RFC 6455, chosen by ARG:
//   rsv     a text frame with RSV2 set (no extension was negotiated)
//   opcode  a frame with the reserved data opcode 0x3
//   masked  a masked text frame (servers must never mask)
//   utf8    a text frame whose payload is not valid UTF-8
// Every variant's payload would otherwise be a valid Live setupComplete.
// The socket then stays open (the client must fail the connection itself);
// the frames the client sends are logged to $HOSTILE_LOG ({frame: opcode,
// len, code}). REST requests get a minimal valid answer ("hello from rest").
import fs from 'node:fs';

export default function (ctx) {
  if (!ctx.isUpgrade) {
    const resp = { candidates: [{ content: { role: 'model', parts: [{ text: 'hello from rest' }] }, finishReason: 'STOP' }] };
    const sse = /streamGenerateContent/.test(ctx.req.path);
    const body = sse ? `data: ${JSON.stringify(resp)}\r\n\r\n` : JSON.stringify(resp);
    ctx.sock.end(`HTTP/1.1 200 OK\r\nContent-Type: ${sse ? 'text/event-stream' : 'application/json'}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return;
  }
  const what = ctx.args[0] || 'rsv';
  const ok = Buffer.from('{"setupComplete":{}}');
  const bad = {
    rsv: () => ctx.frame(0x1, ok, { rsv: 2 }),
    opcode: () => ctx.frame(0x3, ok),
    masked: () => ctx.frame(0x1, ok, { mask: true }),
    // "setupComplete" then a lone continuation byte and an overlong NUL
    utf8: () => ctx.frame(0x1, Buffer.concat([Buffer.from('{"setupComplete":{},"x":"'),
                                              Buffer.from([0x80, 0xc0, 0x80]), Buffer.from('"}')])),
  }[what];
  if (!bad) { ctx.sock.destroy(); return; }
  ctx.accept();
  let sent = false;
  ctx.readFrames((f) => {
    if (process.env.HOSTILE_LOG) {
      fs.appendFileSync(process.env.HOSTILE_LOG, JSON.stringify({ frame: f.op, len: f.payload.length,
        code: f.op === 8 && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : undefined }) + '\n');
    }
    if (!sent) { sent = true; ctx.sock.write(bad()); }
  });
  ctx.sock.on('end', () => ctx.sock.end());
}
