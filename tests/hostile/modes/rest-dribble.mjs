// A valid answer written one byte at a time, a few milliseconds apart
// (HOSTILE_DRIBBLE_MS, default 2): an SSE stream of three chunks for
// streamGenerateContent, one JSON response (with Content-Length) for
// generateContent. ARG: byte offsets at which to close the connection
// instead, comma-separated, used in turn by successive requests ("-"
// in the list: that request is not cut). No ARG: never cut. A test can
// import { response } to know the bytes (and so the offsets worth cutting at).
const chunk = (text, last) => JSON.stringify({
  candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0,
    ...(last ? { finishReason: 'STOP' } : {}) }],
  ...(last ? { usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 3, totalTokenCount: 4 } } : {}),
  modelVersion: 'hostile' });
export function response(path) {
  if (path.includes('alt=sse')) {
    return 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n' +
      [chunk('one '), chunk('two '), chunk('three', true)].map((e) => `data: ${e}\r\n\r\n`).join('');
  }
  const body = chunk('one two three', true);
  return 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
export default function (ctx) {
  const bytes = Buffer.from(response(ctx.req.path));
  const cuts = (ctx.args[0] || '').split(',').filter((s) => s !== '');
  const n = ctx.state.dribbled = (ctx.state.dribbled || 0) + 1;
  const at = cuts.length ? cuts[(n - 1) % cuts.length] : '-';
  const cut = at === '-' ? bytes.length : Math.min(Number(at), bytes.length);
  const ms = Number(process.env.HOSTILE_DRIBBLE_MS || 2);
  let i = 0;
  const step = () => {
    if (ctx.sock.destroyed) return;
    if (i >= cut) { ctx.sock.end(); return; }
    ctx.sock.write(bytes.subarray(i, i + 1));
    i++;
    setTimeout(step, ms);
  };
  step();
}
