// Answers every request with a successful SSE stream (REST) whose one event
// holds the client's API key with bytes that are not UTF-8 right next to it
// (0xff 0xfe before, 0xc3 0x28 after), in one write: a chunk that a cassette
// cannot store as text.
export default function (ctx) {
  const k = Buffer.from(ctx.key);
  const head = Buffer.from('data: {"candidates":[{"content":{"role":"model","parts":[{"text":"bin ');
  const tail = Buffer.from(' end"}]},"finishReason":"STOP"}]}\r\n\r\n');
  const body = Buffer.concat([head, Buffer.from([0xff, 0xfe]), k, Buffer.from([0xc3, 0x28]), tail]);
  ctx.sock.end(Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n'), body]));
}
