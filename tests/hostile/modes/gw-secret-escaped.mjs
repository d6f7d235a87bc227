// A successful answer that carries the client's API key written with a
// JSON escape (its first character as \uXXXX), which a byte-level redaction
// cannot see but any JSON parser turns back into the key: an SSE stream for
// ?alt=sse, a unary JSON response otherwise, and in a Live session a model
// turn after the first client message that follows the setup.
export default function (ctx) {
  const k = ctx.key;
  const esc = `\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}`;
  const text = `the key is ${esc}.`;
  const obj = `{"candidates":[{"content":{"role":"model","parts":[{"text":"${text}"}]},"finishReason":"STOP","index":0}]}`;
  if (ctx.isUpgrade) {
    ctx.accept();
    let n = 0;
    ctx.readFrames((f) => {
      if (f.op !== 0x1 && f.op !== 0x2) return;
      n++;
      if (n === 1) ctx.sock.write(ctx.frame(0x2, '{"setupComplete":{}}'));
      else {
        ctx.sock.write(ctx.frame(0x2, `{"serverContent":{"modelTurn":{"parts":[{"text":"${text}"}]}}}`));
        ctx.sock.write(ctx.frame(0x2, '{"serverContent":{"turnComplete":true}}'));
      }
    });
    return;
  }
  if (ctx.req.path.includes('alt=sse')) {
    ctx.sock.end(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: ${obj}\r\n\r\n`);
  } else {
    ctx.sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(obj)}\r\n` +
      `Connection: close\r\n\r\n${obj}`);
  }
}
