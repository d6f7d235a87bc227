// Every REST request gets "204 No Content": no body, no answer.
export default function (ctx) {
  ctx.sock.end('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n');
}
