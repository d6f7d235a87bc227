// bench/sdk.mjs — the official SDK's side of bench/run: Google's @google/genai
// (and ws, the WebSocket library it uses) on node, against glmock.
//   node bench/sdk.mjs oneshot [PROMPT]             stream one answer to stdout
//   node bench/sdk.mjs sse BODYFILE STREAMS MODEL    generateContentStream, STREAMS in a row
//   node bench/sdk.mjs turns ROUNDS                  ai.live.connect text turns
//   node bench/sdk.mjs echo ROUNDS                   raw ws round trips on /glmock/echo
//   node bench/sdk.mjs flood COUNT SIZE              raw ws: COUNT server messages received
//   node bench/sdk.mjs scale-live N                  N concurrent Live sessions held, one turn each
//   node bench/sdk.mjs scale-rest N                  N concurrent REST streams held open
// The server is GOOGLE_GEMINI_BASE_URL (httpOptions.baseUrl, so it works on
// every SDK version), the key GEMINI_API_KEY. Output lines are key=value, as
// the glrun scripts print them.
import { readFileSync, readdirSync } from 'node:fs';
import { GoogleGenAI, Modality } from '@google/genai';
import WebSocket from 'ws';

const BASE = process.env.GOOGLE_GEMINI_BASE_URL;
const KEY = process.env.GEMINI_API_KEY || 'bench-key';
const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: BASE, apiVersion: 'v1beta' } });
const [mode, a1, a2, a3] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const rssKiB = () => {
  const m = /VmRSS:\s*(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m[1]);
};
function report(dt, rounds, msgs, lat) {
  lat.sort((x, y) => x - y);
  const pct = (p) => (lat.length ? lat[Math.max(0, Math.ceil(lat.length * p) - 1)] * 1e6 : 0);
  console.log(`seconds=${dt.toFixed(6)} rounds=${rounds} msgs=${msgs} p50_us=${pct(0.5).toFixed(1)} p99_us=${pct(0.99).toFixed(1)}`);
}

// A Live session whose messages can be awaited one by one.
async function liveSession(extra = {}) {
  const q = [];
  let wake = null, closed = null;
  const session = await ai.live.connect({
    model: 'gemini-live-text-test',
    config: { responseModalities: [Modality.TEXT], sessionResumption: {}, ...extra },
    callbacks: {
      onmessage: (m) => { q.push(m); if (wake) { const w = wake; wake = null; w(); } },
      onerror: (e) => { closed = e?.message || 'error'; if (wake) { const w = wake; wake = null; w(); } },
      onclose: (e) => { closed = closed || `closed ${e?.code}`; if (wake) { const w = wake; wake = null; w(); } },
    },
  });
  async function next() {
    while (q.length === 0) {
      if (closed) throw new Error(`Live session ${closed}`);
      await new Promise((res) => { wake = res; });
    }
    return q.shift();
  }
  // the messages of one turn, up to and including turnComplete
  async function turn(text) {
    session.sendClientContent({ turns: [{ role: 'user', parts: [{ text }] }], turnComplete: true });
    let n = 0, out = '';
    for (;;) {
      const m = await next();
      n++;
      for (const p of m.serverContent?.modelTurn?.parts || []) if (typeof p.text === 'string') out += p.text;
      if (m.serverContent?.turnComplete) return { n, text: out };
    }
  }
  return { session, next, turn };
}

function wsConnect(url) {
  return new Promise((res, rej) => {
    const c = new WebSocket(url);
    c.once('open', () => res(c));
    c.once('error', rej);
  });
}

if (mode === 'oneshot') {
  const stream = await ai.models.generateContentStream({
    model: 'gemini-2.5-flash',
    contents: a1 || 'Say hello to a new glrun user in one short sentence.',
  });
  for await (const chunk of stream) process.stdout.write(chunk.text ?? '');
  process.stdout.write('\n');
} else if (mode === 'sse') {
  const req = JSON.parse(readFileSync(a1, 'utf8'));
  const streams = Number(a2 || 1), model = a3 || 'gemini-many';
  let events = 0, chars = 0;
  const t0 = now();
  for (let i = 0; i < streams; i++) {
    const stream = await ai.models.generateContentStream({ model, contents: req.contents });
    for await (const chunk of stream) { events++; chars += chunk.text.length; }
  }
  console.log(`seconds=${(now() - t0).toFixed(6)} events=${events} chars=${chars}`);
} else if (mode === 'turns') {
  const n = Number(a1 || 1000);
  const s = await liveSession();
  await s.next(); // setupComplete
  for (let i = 0; i < 20; i++) await s.turn('warm up');
  const lat = [];
  let msgs = 0;
  const t0 = now();
  for (let i = 1; i <= n; i++) {
    const a = now();
    msgs += (await s.turn(`ping number ${i}`)).n;
    lat.push(now() - a);
  }
  const dt = now() - t0;
  s.session.close();
  report(dt, n, msgs, lat);
} else if (mode === 'echo' || mode === 'flood') {
  const c = await wsConnect(BASE.replace(/^http/, 'ws') + '/glmock/echo');
  const q = [];
  let wake = null;
  c.on('message', (d) => { q.push(d); if (wake) { const w = wake; wake = null; w(); } });
  const recv = async () => { while (!q.length) await new Promise((r) => { wake = r; }); return q.shift(); };
  c.send('x'); await recv();
  const n = Number(a1 || 1000), lat = [];
  const t0 = now();
  if (mode === 'echo') {
    const msg = '{"realtimeInput":{"text":"hi"}}';
    for (let i = 0; i < n; i++) {
      const a = now();
      c.send(msg);
      await recv();
      lat.push(now() - a);
    }
    report(now() - t0, n, n, lat);
  } else {
    const size = Number(a2 || 64);
    c.send(`!flood ${n} ${size}`);
    for (let got = 0; got < n; got++) {
      const m = await recv();
      if (m.length !== size) throw new Error(`message of ${m.length} bytes`);
    }
    report(now() - t0, 1, n, lat);
  }
  c.close();
} else if (mode === 'scale-live' || mode === 'scale-rest') {
  // N concurrent sessions / streams, all open at once; RSS sampled while
  // they are all held, then each finishes (a turn / the rest of the stream)
  // and is checked. Prints ok (sessions that worked), failures and RSS.
  const n = Number(a1 || 100);
  global.gc?.();
  const r0 = rssKiB();
  const t0 = now();
  let ok = 0, failed = 0, firstErr = '';
  const fail = (e) => { failed++; if (!firstErr) firstErr = String(e?.message || e).slice(0, 120); };
  let held, fds;
  if (mode === 'scale-live') {
    const sessions = await Promise.all(Array.from({ length: n }, () =>
      liveSession().then(async (s) => { await s.next(); return s; }, (e) => { fail(e); return null; })));
    const topen = now() - t0;
    held = rssKiB();
    fds = readdirSync('/proc/self/fd').length;
    await Promise.all(sessions.map(async (s, i) => {
      if (!s) return;
      try {
        const r = await s.turn(`hello ${i}`);
        if (r.text === `echo: hello ${i}`) ok++; else fail(`wrong reply ${r.text}`);
      } catch (e) { fail(e); }
      s.session.close();
    }));
    console.log(`n=${n} ok=${ok} failed=${failed} open_s=${topen.toFixed(3)} rss0_kib=${r0} rss_kib=${held} total_s=${(now() - t0).toFixed(3)} fds=${fds} err="${firstErr}"`);
  } else {
    let opened = 0, release;
    const barrier = new Promise((r) => { release = r; });
    const tasks = Array.from({ length: n }, async (_, i) => {
      try {
        const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: `s${i}` });
        const it = stream[Symbol.asyncIterator]();
        let text = (await it.next()).value.text;
        if (++opened === n) release();
        await barrier;
        for (;;) { const r = await it.next(); if (r.done) break; text += r.value.text; }
        if (text === `echo: s${i}`) ok++; else fail(`wrong reply ${text.slice(0, 60)}`);
      } catch (e) { fail(e); if (++opened === n) release(); }
    });
    await barrier;
    const topen = now() - t0;
    held = rssKiB();
    fds = readdirSync('/proc/self/fd').length;
    await Promise.all(tasks);
    console.log(`n=${n} ok=${ok} failed=${failed} open_s=${topen.toFixed(3)} rss0_kib=${r0} rss_kib=${held} total_s=${(now() - t0).toFixed(3)} fds=${fds} err="${firstErr}"`);
  }
  process.exit(0);
} else {
  console.error('usage: node bench/sdk.mjs oneshot|sse|turns|echo|flood|scale-live|scale-rest ...');
  process.exit(2);
}
