// An answer that stops early: two well-formed SSE chunks with text, then a
// clean end of the stream, with no finishReason on any candidate (unary
// generateContent: one response without finishReason). With ARG "block",
// the one chunk is a prompt blocked by safety (promptFeedback.blockReason).
const chunk = (text) => JSON.stringify({
  candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }],
  modelVersion: 'hostile' });
const blocked = JSON.stringify({ promptFeedback: { blockReason: 'SAFETY' }, modelVersion: 'hostile' });
export default function (ctx) {
  const block = ctx.args[0] === 'block';
  if (ctx.req.path.includes('alt=sse')) {
    const events = block ? [blocked] : [chunk('partial answer, '), chunk('still going')];
    ctx.sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n' +
      events.map((e) => `data: ${e}\r\n\r\n`).join(''));
  } else {
    const body = block ? blocked : chunk('partial answer');
    ctx.sock.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
}
