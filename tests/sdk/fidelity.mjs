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
const client = (apiKey = 'fidelity-key') => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: base, apiVersion } });
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
};

let passed = 0, failed = 0;
for (const [name, fn] of Object.entries(checks)) {
  if (only && !only.has(name)) continue;
  try { await fn(); passed++; console.log(`ok - ${name}`); }
  catch (e) { failed++; console.log(`not ok - ${name}: ${e?.message || e}`); }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
