// An upstream that answers nothing useful and says when its client (the
// gateway) lets go: `?alt=sse` gets the SSE headers and one event of text,
// then silence; every other REST request gets nothing at all; a WebSocket
// upgrade gets a 404 (a Live attempt fails at once, so a turn falls back to
// REST). When the client closes a connection, a line
// {"closed": PATH, "after_ms": N} is appended to $HOSTILE_LOG: a test sees
// that the gateway closed its upstream request, and how soon.
import fs from 'node:fs';

export default function (ctx) {
  const t0 = Date.now();
  const log = process.env.HOSTILE_LOG;
  if (ctx.isUpgrade) {
    ctx.sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  ctx.sock.on('data', () => {});            // keep reading: the client's close is seen
  ctx.sock.on('close', () => {
    if (log) fs.appendFileSync(log, JSON.stringify({ closed: ctx.req.path, after_ms: Date.now() - t0 }) + '\n');
  });
  if (ctx.req.path.includes('alt=sse')) {
    const first = JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'stalled ' }] }, index: 0 }] });
    ctx.sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n' +
      `data: ${first}\r\n\r\n`);
  }
}
