// tests/sdk/fidelity.mjs — Google's official JavaScript SDK (@google/genai,
// pinned in bench/package.json) used as a real client against glmock, so the
// test suite checks glmock's wire protocol against code nobody here wrote.
//
//   node tests/sdk/fidelity.mjs BASE_URL [--only=a,b] [--api-version=v1beta]
//
// Prints "ok - NAME" or "not ok - NAME: why" per check and ends with
// "N passed, M failed". Exit 0 only when every check passed. Every await is
// bounded by a deadline, so a glmock that stops answering fails a check
// instead of hanging the suite.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'bench', 'package.json'));
const { GoogleGenAI, Modality, ApiError } = await import(require.resolve('@google/genai'));

const base = process.argv[2];
if (!base) { console.error('usage: fidelity.mjs BASE_URL [--only=a,b] [--api-version=V]'); process.exit(2); }
const opt = (n, d) => (process.argv.find((a) => a.startsWith(`--${n}=`)) || `=${d}`).split('=')[1];
const only = opt('only', '') ? new Set(opt('only', '').split(',')) : null;
const apiVersion = opt('api-version', 'v1beta');
const LIVE_MODEL = 'gemini-live-text-test';
const LIVE3_MODEL = 'gemini-3-live-text-test';   // glmock's TEXT twin of the 3.x Live models
// Through `glrun serve` (tests/e2e/serve_sdk.sh): FIDELITY_KEY is the
// gateway's access token, and FIDELITY_GATEWAY=1 runs the checks of the
// routes a gateway serves (the resource APIs are not among them).
const KEY = process.env.FIDELITY_KEY || 'fidelity-key';
const GATEWAY = !!process.env.FIDELITY_GATEWAY;
const GATEWAY_SKIP = new Set(['files.upload-get-delete', 'batches.create-get', 'caches.create', 'authTokens.create']);
const client = (apiKey = KEY) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: base, apiVersion } });
const ai = client();

const within = (ms, p, what) => Promise.race([p, new Promise((_, rej) =>
  setTimeout(() => rej(new Error(`no answer within ${ms} ms (${what})`)), ms).unref())]);
const assert = (cond, msg) => { if (!cond) throw new Error(msg); };

// The status an SDK call failed with (the SDK throws ApiError for HTTP errors).
async function statusOf(p) {
  try { await p; } catch (e) {
    if (e instanceof ApiError || typeof e?.status === 'number') return e.status;
    throw e;
  }
  throw new Error('the call succeeded; an error was expected');
}

// A Live session as a queue of messages.
async function live(model, config = {}) {
  const q = []; let wake = null, closed = null;
  const poke = () => { if (wake) { const w = wake; wake = null; w(); } };
  const session = await within(10000, ai.live.connect({
    model, config: { responseModalities: [Modality.TEXT], ...config },
    callbacks: {
      onmessage: (m) => { q.push(m); poke(); },
      onerror: (e) => { closed = closed || { error: e?.message || 'error' }; poke(); },
      onclose: (e) => { closed = closed || { code: e?.code, reason: e?.reason }; poke(); },
    },
  }), 'live.connect');
  async function next(ms = 10000) {
    const until = Date.now() + ms;
    while (q.length === 0) {
      if (closed) return { closed };
      const left = until - Date.now();
      if (left <= 0) throw new Error('no Live message within the deadline');
      await new Promise((res) => { wake = res; setTimeout(res, left).unref(); });
    }
    return q.shift();
  }
  async function turn() { // the text of one model turn, up to turnComplete
    let text = '';
    for (;;) {
      const m = await next();
      if (m.closed) throw new Error(`session closed mid-turn: ${JSON.stringify(m.closed)}`);
      if (m.toolCall) return { toolCall: m.toolCall, text };
      for (const p of m.serverContent?.modelTurn?.parts || []) if (typeof p.text === 'string') text += p.text;
      if (m.serverContent?.turnComplete) return { text };
    }
  }
  return { session, next, turn, closed: () => closed };
}

const checks = {
  'rest.generateContent': async () => {
    const r = await within(10000, ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hello fidelity' }), 'generateContent');
    assert(r.text === 'echo: hello fidelity', `text was ${JSON.stringify(r.text)}`);
    assert(r.usageMetadata?.totalTokenCount > 0, 'no usageMetadata.totalTokenCount');
    assert(r.candidates?.[0]?.finishReason === 'STOP', `finishReason ${r.candidates?.[0]?.finishReason}`);
  },
  'rest.generateContentStream': async () => {
    const s = await within(10000, ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'one two three four five six' }), 'stream');
    let text = '', chunks = 0, finish = null;
    for await (const c of s) { chunks++; text += c.text ?? ''; finish = c.candidates?.[0]?.finishReason || finish; }
    assert(text === 'echo: one two three four five six', `text was ${JSON.stringify(text)}`);
    assert(chunks > 1, `one chunk only (${chunks}); glmock streams several`);
    assert(finish === 'STOP', `last finishReason ${finish}`);
  },
  'rest.countTokens': async () => {
    const r = await within(10000, ai.models.countTokens({ model: 'gemini-2.5-flash', contents: 'three small words' }), 'countTokens');
    assert(r.totalTokens === 3, `totalTokens ${r.totalTokens}`);
  },
  'rest.models.list': async () => {
    const pager = await within(10000, ai.models.list({ config: { pageSize: 2 } }), 'models.list');
    const names = [];
    for await (const m of pager) { names.push(m.name); if (names.length > 500) break; }
    assert(names.length > 2, `only ${names.length} models (pagination not followed?)`);
    assert(names.every((n) => n.startsWith('models/')), `bad names ${names.slice(0, 3)}`);
  },
  'rest.embedContent': async () => {
    const r = await within(10000, ai.models.embedContent({ model: 'text-embedding-004', contents: 'embed me' }), 'embedContent');
    const v = r.embeddings?.[0]?.values;
    assert(Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'), 'no embedding values');
  },
  'rest.error-429': async () => {
    const s = await statusOf(ai.models.generateContent({ model: 'gemini-ratelimited-test', contents: 'x' }));
    assert(s === 429, `status ${s}`);
  },
  'rest.error-400-bad-key': async () => {
    const s = await statusOf(client('bad').models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }));
    assert(s === 400, `status ${s}`);
  },
  'rest.error-404-unknown-model': async () => {
    const s = await statusOf(ai.models.generateContent({ model: 'gemini-nonexistent-test', contents: 'x' }));
    assert(s === 404, `status ${s}`);
  },
  'rest.error-503-overloaded': async () => {
    const s = await statusOf(ai.models.generateContent({ model: 'gemini-overloaded-test', contents: 'x' }));
    assert(s === 503, `status ${s}`);
  },
  'live.text-turn': async () => {
    const l = await live(LIVE_MODEL);
    l.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'live fidelity' }] }], turnComplete: true });
    const t = await l.turn();
    assert(t.text === 'echo: live fidelity', `text was ${JSON.stringify(t.text)}`);
    l.session.close();
  },
  'live.tool-call': async () => {
    const l = await live(LIVE_MODEL, { tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'weather',
      parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } }] }] });
    l.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'weather in Paris' }] }], turnComplete: true });
    const t = await l.turn();
    const fc = t.toolCall?.functionCalls?.[0];
    assert(fc?.name === 'get_weather', `no get_weather toolCall (${JSON.stringify(t)})`);
    l.session.sendToolResponse({ functionResponses: [{ id: fc.id, name: fc.name, response: { temp: 21 } }] });
    const after = await l.turn();
    assert(after.text.length > 0, 'no text after the toolResponse');
    l.session.close();
  },
  'live.goaway-resumption': async () => {
    const l = await live(LIVE_MODEL, { sessionResumption: {} });
    l.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'please goaway now' }] }], turnComplete: true });
    let handle = null, goAway = null;
    for (let i = 0; i < 50 && !goAway; i++) {
      const m = await l.next();
      if (m.closed) break;
      if (m.sessionResumptionUpdate?.newHandle) handle = m.sessionResumptionUpdate.newHandle;
      if (m.goAway) goAway = m.goAway;
    }
    assert(goAway && goAway.timeLeft, 'no goAway with timeLeft');
    assert(handle, 'no sessionResumptionUpdate.newHandle before the goAway');
    const r = await live(LIVE_MODEL, { sessionResumption: { handle } });
    r.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'resumed' }] }], turnComplete: true });
    const t = await r.turn();
    assert(t.text === 'echo: resumed', `resumed turn text ${JSON.stringify(t.text)}`);
    r.session.close(); l.session.close();
  },
  'live.unknown-model-1008': async () => {
    // The SDK either rejects connect (the close came before setupComplete)
    // or reports the close to onclose; both must carry code 1008.
    let seen;
    try {
      const l = await live('gemini-nonexistent-live-test');
      const m = await l.next();
      seen = m.closed ? `code ${m.closed.code} ${m.closed.reason || ''}` : JSON.stringify(m);
    } catch (e) { seen = String(e?.message || e); }
    assert(/\b1008\b/.test(seen) && /not found|not supported/i.test(seen), `expected a 1008 close naming the model, got ${seen}`);
  },
  // Gemini 3.x Live rules (tests/glmock/README.md, "Gemini 3.x Live sessions"),
  // on glmock's TEXT twin of the 3.x Live models. wireTap() sees (and may
  // rewrite) every message the SDK sends.
  'live3.realtime-text': async () => {
    const tap = wireTap();
    try {
      const l = await live(LIVE3_MODEL);
      l.session.sendRealtimeInput({ text: 'three point x fidelity words here' });
      let first = await l.next();
      if (first.setupComplete) first = await l.next();
      assert(first.serverContent && !first.serverContent.modelTurn && first.usageMetadata,
        `a usage-only serverContent comes first, got ${JSON.stringify(first)}`);
      let text = '', maxParts = 0;
      for (;;) {
        const m = await l.next();
        if (m.closed) throw new Error(`closed: ${JSON.stringify(m.closed)}`);
        const parts = m.serverContent?.modelTurn?.parts || [];
        maxParts = Math.max(maxParts, parts.length);
        for (const p of parts) text += p.text ?? '';
        if (m.serverContent?.turnComplete) break;
      }
      assert(text === 'echo: three point x fidelity words here', `text was ${JSON.stringify(text)}`);
      assert(maxParts >= 2, `several parts in one message expected, at most ${maxParts}`);
      assert(tap.sent.some((m) => m.realtimeInput?.text === 'three point x fidelity words here'),
        'the SDK did not send realtimeInput.text');
      l.session.close();
    } finally { tap.restore(); }
  },
  // @google/genai 3.3.0 types LiveConnectConfig.historyConfig but its Gemini
  // API converter (liveConnectConfigToMldev) does not copy it into the
  // setup, so seeding with sendClientContent meets the 1007 a setup without
  // historyConfig gets. This check fails when a newer SDK sends it.
  'live3.sdk-drops-historyConfig': async () => {
    const tap = wireTap();
    try {
      const l = await live(LIVE3_MODEL, { historyConfig: { initialHistoryInClientContent: true } });
      const setup = tap.sent.find((m) => m.setup)?.setup;
      assert(setup && !setup.historyConfig, `setup ${JSON.stringify(setup)}`);
      l.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'seed' }] }], turnComplete: true });
      let m = await l.next();
      if (m.setupComplete) m = await l.next();
      assert(m.closed?.code === 1007 && /invalid argument/i.test(m.closed.reason || ''),
        `expected close 1007, got ${JSON.stringify(m)}`);
    } finally { tap.restore(); }
  },
  // What python-genai sends (it maps history_config): the setup with
  // historyConfig (added on the wire here), seeding with sendClientContent,
  // then the conversation with sendRealtimeInput.
  'live3.seeded-history': async () => {
    const tap = wireTap((m) => (m.setup ? { setup: { ...m.setup, historyConfig: { initialHistoryInClientContent: true } } } : m));
    try {
      const l = await live(LIVE3_MODEL);
      const sc = await l.next();
      assert(sc.setupComplete, `setupComplete expected, got ${JSON.stringify(sc)}`);
      l.session.sendClientContent({ turns: [
        { role: 'user', parts: [{ text: 'my name is Ada' }] },
        { role: 'model', parts: [{ text: 'Hello Ada' }] }], turnComplete: true });
      let early = null;
      try { early = await l.next(300); } catch { /* nothing within 300 ms: no model call */ }
      assert(early === null, `seeding triggered ${JSON.stringify(early)}`);
      l.session.sendRealtimeInput({ text: 'what is my name' });
      const t = await l.turn();
      assert(t.text === 'echo: what is my name (history: 2 turns)', `text was ${JSON.stringify(t.text)}`);
      l.session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'late' }] }], turnComplete: true });
      const m = await l.next();
      assert(m.closed?.code === 1007, `clientContent after the initial history: ${JSON.stringify(m)}`);
    } finally { tap.restore(); }
  },
  'live3.not-implemented-1008': async () => {
    let seen;
    try {
      const l = await live('gemini-3.1-flash-live-preview', { responseModalities: [Modality.AUDIO],
        tools: [{ functionDeclarations: [{ name: 'lookup', description: 'async lookup', behavior: 'NON_BLOCKING' }] }] });
      const m = await l.next();
      seen = m.closed ? `code ${m.closed.code} ${m.closed.reason || ''}` : JSON.stringify(m);
    } catch (e) { seen = String(e?.message || e); }
    assert(/\b1008\b/.test(seen) && /Operation is not implemented, or supported, or enabled/.test(seen),
      `expected 1008 "Operation is not implemented...", got ${seen}`);
  },
  // The resource APIs (tests/glmock/README.md: Files, Batch API, Context
  // caches, Ephemeral tokens): the SDK's own upload, jobs, caches and tokens.
  'files.upload-get-delete': async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fidelity-'));
    const p = path.join(dir, 'note.txt');
    fs.writeFileSync(p, 'x'.repeat(9 * 1024 * 1024 + 17)); // two chunks of the SDK's 8 MiB
    try {
      const f = await within(30000, ai.files.upload({ file: p, config: { mimeType: 'text/plain', displayName: 'fidelity' } }), 'files.upload');
      assert(/^files\/[a-z0-9]+$/.test(f.name), `name ${f.name}`);
      assert(String(f.sizeBytes) === String(9 * 1024 * 1024 + 17), `sizeBytes ${f.sizeBytes}`);
      assert(f.mimeType === 'text/plain' && f.displayName === 'fidelity' && f.state === 'ACTIVE', JSON.stringify(f));
      const g = await within(10000, ai.files.get({ name: f.name }), 'files.get');
      assert(g.name === f.name && g.uri === f.uri, JSON.stringify(g));
      await within(10000, ai.files.delete({ name: f.name }), 'files.delete');
      const s = await statusOf(ai.files.get({ name: f.name }));
      assert(s === 403, `get after delete: status ${s}`);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  },
  'batches.create-get': async () => {
    const job = await within(10000, ai.batches.create({ model: 'gemini-2.5-flash',
      src: [{ contents: [{ role: 'user', parts: [{ text: 'batch fidelity' }] }], metadata: { key: 'k1' } }],
      config: { displayName: 'fidelity' } }), 'batches.create');
    assert(/^batches\/[a-z0-9]+$/.test(job.name), `name ${job.name}`);
    assert(job.state === 'JOB_STATE_PENDING', `state ${job.state}`);
    let j = job;
    for (let i = 0; i < 10 && j.state !== 'JOB_STATE_SUCCEEDED'; i++) j = await within(10000, ai.batches.get({ name: job.name }), 'batches.get');
    assert(j.state === 'JOB_STATE_SUCCEEDED', `state ${j.state}`);
    const r = j.dest?.inlinedResponses?.[0];
    assert(r?.response?.candidates?.[0]?.content?.parts?.[0]?.text === 'echo: batch fidelity', JSON.stringify(j.dest));
  },
  'caches.create': async () => {
    const words = Array.from({ length: 1100 }, (_, i) => `w${i}`).join(' ');
    const c = await within(10000, ai.caches.create({ model: 'gemini-2.5-flash', config: {
      contents: [{ role: 'user', parts: [{ text: words }] }], systemInstruction: 'Answer from the text.', ttl: '300s' } }), 'caches.create');
    assert(/^cachedContents\/[a-z0-9]+$/.test(c.name), `name ${c.name}`);
    assert(c.model === 'models/gemini-2.5-flash' && c.usageMetadata?.totalTokenCount >= 1100, JSON.stringify(c));
    const r = await within(10000, ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'q about it',
      config: { cachedContent: c.name } }), 'generateContent with the cache');
    assert(r.text === 'echo: q about it' && r.usageMetadata?.cachedContentTokenCount === c.usageMetadata.totalTokenCount,
      JSON.stringify(r.usageMetadata));
  },
  'authTokens.create': async () => {
    const v1alpha = new GoogleGenAI({ apiKey: 'fidelity-key', httpOptions: { baseUrl: base, apiVersion: 'v1alpha' } });
    const t = await within(10000, v1alpha.authTokens.create({ config: { uses: 1,
      liveConnectConstraints: { model: LIVE_MODEL, config: { responseModalities: [Modality.TEXT] } }, lockAdditionalFields: [] } }),
      'authTokens.create');
    assert(/^auth_tokens\/[a-z0-9]+$/.test(t.name || ''), `name ${t.name}`);
    // the token opens a session on the v1alpha Constrained method (?access_token=, as this SDK sends it)
    const warn = console.warn; console.warn = () => {};
    try {
      const tai = new GoogleGenAI({ apiKey: t.name, httpOptions: { baseUrl: base, apiVersion: 'v1alpha' } });
      let text = '', done = false, closed = null;
      const session = await within(10000, tai.live.connect({ model: LIVE_MODEL, config: { responseModalities: [Modality.TEXT] },
        callbacks: { onmessage: (m) => { for (const p of m.serverContent?.modelTurn?.parts || []) text += p.text ?? '';
          if (m.serverContent?.turnComplete) done = true; }, onclose: (e) => { closed = e?.code; } } }), 'live.connect with the token');
      session.sendClientContent({ turns: [{ role: 'user', parts: [{ text: 'token fidelity' }] }], turnComplete: true });
      for (let i = 0; i < 200 && !done && closed === null; i++) await new Promise((res) => setTimeout(res, 25));
      session.close();
      assert(text === 'echo: token fidelity', `text ${JSON.stringify(text)}, closed ${closed}`);
    } finally { console.warn = warn; }
  },
};

// Every message the SDK sends over its WebSocket (the `ws` package it
// imports), decoded; `rewrite` may return a replacement message.
function wireTap(rewrite) {
  const WS = require('ws');
  const orig = WS.prototype.send;
  const sent = [];
  WS.prototype.send = function send(data, ...rest) {
    if (typeof data === 'string') {
      try {
        let m = JSON.parse(data);
        if (rewrite) { m = rewrite(m) || m; data = JSON.stringify(m); }
        sent.push(m);
      } catch { /* not JSON: sent as is */ }
    }
    return orig.call(this, data, ...rest);
  };
  return { sent, restore: () => { WS.prototype.send = orig; } };
}

let passed = 0, failed = 0;
for (const [name, fn] of Object.entries(checks)) {
  if (only && !only.has(name)) continue;
  if (GATEWAY && GATEWAY_SKIP.has(name)) continue;
  try { await fn(); passed++; console.log(`ok - ${name}`); }
  catch (e) { failed++; console.log(`not ok - ${name}: ${e?.message || e}`); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
