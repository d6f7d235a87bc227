// A 200 SSE stream that never answers but is never idle either: an SSE
// comment (": keep-alive") every 0.2 s until the client or the server
// (HOSTILE_LIFETIME) goes away.
export default function (ctx) {
  ctx.sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n');
  const t = setInterval(() => {
    if (ctx.sock.destroyed) { clearInterval(t); return; }
    ctx.sock.write(': keep-alive\n\n');
  }, 200);
  ctx.sock.on('close', () => clearInterval(t));
}
