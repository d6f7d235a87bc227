// Answers a WebSocket upgrade with the start of a valid 101 response and
// closes the socket in the middle of its headers (as a proxy that dies, or
// a server that crashes mid-write). Other requests get a 404.
export default function (ctx) {
  if (!ctx.isUpgrade) {
    ctx.sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  ctx.sock.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnec');
}
