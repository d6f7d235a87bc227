// A 200 that is not an answer: for streamGenerateContent an SSE stream
// that ends cleanly with no event at all; for generateContent an empty
// JSON body of length 0.
export default function (ctx) {
  if (ctx.req.path.includes('alt=sse')) {
    ctx.sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n');
  } else {
    ctx.sock.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  }
}
