// Answers a WebSocket upgrade with "HTTP/1.1 101" and then nothing, ever:
// the status line never ends and no header follows; the socket stays open
// until the client gives up (or the server's lifetime ends). Other
// requests get a 404.
export default function (ctx) {
  if (!ctx.isUpgrade) {
    ctx.sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  ctx.sock.write('HTTP/1.1 101');
  ctx.sock.on('end', () => ctx.sock.end());
}
