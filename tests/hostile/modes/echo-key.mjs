// Echoes the client's API key back in every place server text enters glrun:
// REST errors (message, details, a header) and Live close reasons.
export default function (ctx) {
  const k = ctx.key;
  if (ctx.isUpgrade) {
    ctx.accept();
    ctx.readFrames(() => {});
    const reason = Buffer.from(`key ${k} refused`).subarray(0, 123);
    const p = Buffer.alloc(2 + reason.length); p.writeUInt16BE(1008); reason.copy(p, 2);
    ctx.sock.end(ctx.frame(0x8, p));
    return;
  }
  const body = JSON.stringify({ error: { code: 400, message: `API key not valid: ${k}`, status: 'INVALID_ARGUMENT',
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', metadata: { key: k } }] } });
  ctx.sock.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-Echo-Key: ${k}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
