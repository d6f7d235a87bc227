// A stream that stalls: the SSE headers and one chunk of text (no
// finishReason), then silence with the connection held open (unary
// generateContent: the headers, then silence).
export default function (ctx) {
  const first = JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'stalled ' }] }, index: 0 }] });
  if (ctx.req.path.includes('alt=sse')) {
    ctx.sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n' +
      `data: ${first}\r\n\r\n`);
  } else {
    ctx.sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n');
  }
}
