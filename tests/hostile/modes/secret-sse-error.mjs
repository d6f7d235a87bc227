// A 200 SSE stream (REST) that starts an answer, then fails with the
// client's API key in the error: as an SSE event {"error": ...} (default),
// or, with ARG "raw", as a bare JSON error body after the first event (no
// "data:" line), the way a proxy or the API sometimes ends a stream.
export default function (ctx) {
  const k = ctx.key;
  const first = JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'partial ' }] } }] });
  const err = JSON.stringify({ error: { code: 500, message: `internal error for key ${k}`, status: 'INTERNAL',
    details: [{ '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: `key=${k}`, stackEntries: [k] }] } });
  const tail = ctx.args[0] === 'raw' ? `${err}\n` : `data: ${err}\r\n\r\n`;
  ctx.sock.end('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n' +
    `data: ${first}\r\n\r\n` + tail);
}
