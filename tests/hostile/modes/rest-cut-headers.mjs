// Writes half a response header block (a status line and part of a
// header), then closes the connection.
export default function (ctx) {
  ctx.sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/event-str');
}
