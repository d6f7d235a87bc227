// doctor_proxy_refuse [STATUS]: an HTTP proxy that passes plain requests
// and refuses WebSocket upgrades, as corporate proxies and some gateways
// do. Use it as HTTP_PROXY / HTTPS_PROXY in front of glmock:
//   * an absolute-form request (`POST http://host:port/path`, what curl
//     sends to a proxy for an http:// URL) is forwarded to its host with
//     `Connection: close` and the answer piped back; an upgrade request in
//     that form gets STATUS (default 404) instead;
//   * CONNECT host:port opens a tunnel (200); the proxy then looks at the
//     first request inside it: a WebSocket upgrade gets STATUS and the
//     tunnel is closed, anything else (plain HTTP, or TLS, which it cannot
//     read) is piped to the host.
// Requests in origin form (not meant for a proxy) get 400.
import net from 'node:net';

function refuse(sock, status) {
  const body = status === 404
    ? '<!DOCTYPE html><html><body><p>404. That\u2019s an error.</p></body></html>'
    : `upgrade refused by the proxy (${status})`;
  sock.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\n` +
    `Content-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function pipe(sock, host, port, first) {
  const up = net.connect(Number(port), host, () => { if (first && first.length) up.write(first); sock.pipe(up); up.pipe(sock); });
  up.on('error', () => sock.destroy());
  sock.on('error', () => up.destroy());
  sock.on('close', () => up.destroy());
}

export default function (ctx) {
  const status = Number(ctx.args[0] || 404);
  const { sock, req } = ctx;
  ctx.state.requests = (ctx.state.requests || 0) + 1;
  if (req.method === 'CONNECT') {
    const [host, port] = req.path.split(':');
    sock.write('HTTP/1.1 200 Connection established\r\n\r\n');
    let buf = Buffer.alloc(0);
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf[0] === 0x16) { sock.removeListener('data', onData); pipe(sock, host, port, buf); return; } // TLS
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) { if (buf.length > 65536) sock.destroy(); return; }
      sock.removeListener('data', onData);
      const head = buf.subarray(0, end).toString('latin1');
      if (/^upgrade:\s*websocket/im.test(head)) refuse(sock, status);
      else pipe(sock, host, port, buf);
    };
    sock.on('data', onData);
    return;
  }
  let target;
  try { target = new URL(req.path); } catch { target = null; }
  if (!target || !/^https?:$/.test(target.protocol)) {
    sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  if (ctx.isUpgrade) { refuse(sock, status); return; }
  const lines = [`${req.method} ${target.pathname}${target.search} HTTP/1.1`];
  for (const [k, v] of Object.entries(req.headers)) {
    if (k === 'connection' || k === 'proxy-connection' || k === 'keep-alive') continue;
    lines.push(`${k}: ${v}`);
  }
  lines.push('connection: close');
  const up = net.connect(Number(target.port || 80), target.hostname, () => {
    up.write(lines.join('\r\n') + '\r\n\r\n');
    if (req.body.length) up.write(req.body);
    up.pipe(sock);
  });
  up.on('error', () => sock.destroy());
  sock.on('error', () => up.destroy());
  sock.on('close', () => up.destroy());
}
