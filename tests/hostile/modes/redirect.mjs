// Every request (REST or WebSocket upgrade) gets a 302 to ARG (default a
// host that never resolves), echoing the API key in the Location's query,
// as a captive portal or a misconfigured proxy might.
export default function (ctx) {
  const to = ctx.args[0] || 'http://portal.invalid/login';
  const loc = `${to}?next=${encodeURIComponent(ctx.req.path)}&key=${encodeURIComponent(ctx.key)}`;
  const body = JSON.stringify({ error: { code: 302, message: 'moved', status: 'FOUND' } });
  ctx.sock.end(`HTTP/1.1 302 Found\r\nLocation: ${loc}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
