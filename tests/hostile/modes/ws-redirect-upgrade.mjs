// Answers a WebSocket upgrade with a 302 to ARG (default a host that never
// resolves), the API key echoed in the Location's query, as a captive portal
// or a misconfigured proxy might; every other request gets a minimal valid
// REST answer (one SSE chunk for streamGenerateContent, one JSON response
// for generateContent), so a client that falls back to REST is answered.
export default function (ctx) {
  if (ctx.isUpgrade) {
    const to = ctx.args[0] || 'http://portal.invalid/login';
    const loc = `${to}?next=${encodeURIComponent(ctx.req.path)}&key=${encodeURIComponent(ctx.key)}`;
    ctx.sock.end(`HTTP/1.1 302 Found\r\nLocation: ${loc}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    return;
  }
  const resp = { candidates: [{ content: { role: 'model', parts: [{ text: 'hello from rest' }] }, finishReason: 'STOP' }] };
  const sse = /streamGenerateContent/.test(ctx.req.path);
  const body = sse ? `data: ${JSON.stringify(resp)}\r\n\r\n` : JSON.stringify(resp);
  ctx.sock.end(`HTTP/1.1 200 OK\r\nContent-Type: ${sse ? 'text/event-stream' : 'application/json'}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
