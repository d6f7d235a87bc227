// Answers every request with a successful SSE stream (REST) whose one
// answer holds the client's API key split across two TCP writes, ARG ms
// apart (default 300), so it reaches glrun in two network reads: the first
// ends in the middle of the key, the second starts with its rest.
export default function (ctx) {
  const k = ctx.key;
  const delay = Number(ctx.args[0] || 300);
  const cut = Math.floor(k.length / 2);
  const ev = JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: `the key is ${k}, said twice: ${k}.` }] },
    finishReason: 'STOP' }] });
  const sse = `data: ${ev}\r\n\r\n`;
  // cut inside the first copy of the key
  const at = sse.indexOf(k) + cut;
  ctx.sock.setNoDelay(true);
  ctx.sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n' + sse.slice(0, at));
  setTimeout(() => ctx.sock.end(sse.slice(at)), delay);
}
