// A Live server whose answer never ends: it accepts the WebSocket upgrade,
// answers the setup with {"setupComplete":{}}, and after the client's first
// turn (clientContent, or realtimeInput.text on the 3.x models) sends serverContent text parts (ARG KiB each, default
// 64) for ever, never with turnComplete, as fast as the socket drains (the
// server's lifetime bounds it). REST requests get a 404.
export default function (ctx) {
  if (!ctx.isUpgrade) {
    ctx.sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const piece = 'x'.repeat(Number(ctx.args[0] || 64) * 1024);
  const msg = ctx.frame(0x2, JSON.stringify({ serverContent: { modelTurn: { parts: [{ text: piece }] } } }));
  let flooding = false;
  const flood = () => {
    while (!ctx.sock.destroyed) {
      if (!ctx.sock.write(msg)) { ctx.sock.once('drain', flood); return; }
    }
  };
  ctx.accept();
  ctx.readFrames((f) => {
    if (f.op === 0x8) { ctx.sock.end(); return; }
    if (f.op !== 0x1 && f.op !== 0x2) return;
    let m;
    try { m = JSON.parse(f.payload.toString()); } catch { return; }
    if (m.setup) ctx.sock.write(ctx.frame(0x2, JSON.stringify({ setupComplete: {} })));
    // a turn: clientContent (2.5 models) or realtimeInput.text (Gemini 3.x Live)
    else if (((m.clientContent && m.clientContent.turnComplete !== false) || (m.realtimeInput && m.realtimeInput.text))
             && !flooding) { flooding = true; flood(); }
  });
}
