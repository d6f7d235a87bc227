// The chat page in a real browser: headless Chromium (Debian's) driven by
// playwright-core against `glrun --mock serve`. Run by
// tests/e2e/serve_browser.sh:
//   node page.mjs SERVE_URL GLMOCK_URL TOKEN ARTIFACT_DIR
// Prints "ok - ..." / "not ok - ..." per check; exit 1 when one failed.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'bench', 'package.json'));
const { chromium } = require('playwright-core');

const [serveUrl, glmockUrl, token, artifacts] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// generous bounds: a loaded 2-core machine
const T = 30000;

let failures = 0, checks = 0;
function check(what, cond, detail) {
  checks++;
  if (cond) console.log('ok - ' + what);
  else { failures++; console.log('not ok - ' + what + (detail !== undefined ? ': ' + String(detail).replace(/\n/g, ' | ') : '')); }
}
async function step(what, fn) {
  try { return await fn(); } catch (e) { check(what, false, e && e.message ? e.message.split('\n')[0] : e); return undefined; }
}
async function scenario(rules) {
  await fetch(glmockUrl + '/glmock/scenario', { method: 'DELETE' });
  if (rules) {
    const r = await fetch(glmockUrl + '/glmock/scenario', { method: 'POST', body: JSON.stringify(rules) });
    if (r.status !== 200) throw new Error('glmock scenario: ' + r.status + ' ' + await r.text());
  }
}
async function metric(name) {
  const r = await fetch(serveUrl + '/metrics', { headers: { Authorization: 'Bearer ' + token } });
  const text = await r.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.split(' ').pop()) || 0;
  }
  return sum;
}

const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true, timeout: 60000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const problems = [];  // page errors and CSP refusals
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) problems.push('console: ' + m.text()); });
  // The page must work under the strict policy the router sends
  // (default-src 'self': no inline script or style attribute, no CDN);
  // the test records the server's header and checks it below.
  let serverCsp = null;
  await page.route('**/*', async (route) => {
    const req = route.request();
    if (req.resourceType() !== 'document') return route.continue();
    const res = await route.fetch();
    const headers = res.headers();
    if (serverCsp === null) serverCsp = headers['content-security-policy'] || '';
    return route.fulfill({ response: res, headers });
  });

  // 1. the page loads
  await step('the page loads', async () => {
    const res = await page.goto(serveUrl + '/', { waitUntil: 'load', timeout: 60000 });
    check('GET / answers the page', res && res.status() === 200 && (await page.title()) === 'glrun chat', res && res.status());
    await page.waitForSelector('#input');
  });
  check("the server sends Content-Security-Policy default-src 'self'", /default-src 'self'/.test(serverCsp || ''), JSON.stringify(serverCsp));
  check('the message box is labelled and focused', await page.evaluate(() => {
    const i = document.getElementById('input');
    return document.activeElement === i && !!document.querySelector('label[for="input"]');
  }));

  // 2. Shift+Enter is a new line, Enter sends; the server wants a token:
  //    the page asks for it, keeps it, and sends the message again
  await step('token and first message', async () => {
    await page.fill('#input', '');
    await page.type('#input', 'Hello **browser**, say `code` and slowframes');
    await page.keyboard.press('Shift+Enter');
    await page.type('#input', 'second line');
    check('Shift+Enter adds a line, sends nothing', (await page.inputValue('#input')).includes('\nsecond line')
      && (await page.locator('.msg').count()) === 0);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#token-form:not([hidden])');
    check('401: the page asks for the access token', await page.isVisible('#token'));
    await page.fill('#token', token);
    await page.press('#token', 'Enter');
    // the answer streams: text is shown while the turn is still going
    await page.waitForFunction(() => {
      const m = document.querySelector('.msg.model.streaming .body');
      return m && m.textContent.length > 0;
    }, null, { timeout: T });
    check('streamed text is shown before the answer is done', true);
    await page.waitForSelector('.msg.model.done', { timeout: T });
    const label = await page.textContent('.msg.model .transport');
    check('the turn is labelled with its transport (Live)', /^Live\b/.test(label.trim()), label);
    const html = await page.innerHTML('.msg.model .body');
    check('Markdown is rendered (bold, inline code)', html.includes('<strong>browser</strong>') && html.includes('<code>code</code>'), html);
    check('the token is kept in localStorage', await page.evaluate((t) => localStorage.getItem('glrun.token') === t, token));
  });

  // 3. stop mid-answer: a long Live answer with 200 ms between messages
  await step('stop', async () => {
    const before = await metric('glrun_serve_cancelled_total');
    await page.fill('#input', 'slowframes ' + 'word '.repeat(300) + 'end');
    await page.click('#send');
    await page.waitForFunction(() => {
      const all = document.querySelectorAll('.msg.model');
      const m = all[all.length - 1];
      return m && m.classList.contains('streaming') && m.querySelector('.body').textContent.length > 0;
    }, null, { timeout: T });
    check('the stop button is enabled while answering', await page.isEnabled('#stop'));
    await page.click('#stop');
    await page.waitForSelector('.msg.model.stopped', { timeout: T });
    const text = await page.textContent('.msg.model.stopped .body');
    check('the answer stopped part-way', text.length > 0 && !text.includes('end'), text.length);
    check('the send button is back', await page.isEnabled('#send') && !(await page.isEnabled('#stop')));
    let after = before;
    for (let i = 0; i < 100 && after <= before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await metric('glrun_serve_cancelled_total');
    }
    check('the server cancelled the answer (glrun_serve_cancelled_total)', after === before + 1, `${before} -> ${after}`);
  });

  // 4. glmock refuses Live: the answer comes over REST, with one line saying why
  await step('fallback', async () => {
    await scenario([{ match: { kind: 'live_handshake' }, count: -1, fault: { status: 404 } }]);
    await page.fill('#input', 'Now a list:\n- one\n- two');
    await page.click('#send');
    await page.waitForFunction(() => document.querySelectorAll('.msg.model.done').length >= 2, null, { timeout: T });
    const last = page.locator('.msg.model').last();
    const label = await last.locator('.transport').textContent();
    check('after the fallback the turn is labelled REST', /^REST\b/.test(label.trim()), label);
    const fb = (await last.locator('.fallback').count()) ? await last.locator('.fallback').textContent() : '';
    check('the fallback line says why, in one line', /404/.test(fb) && !fb.includes('\n'), fb);
    check('the list is rendered', (await last.locator('.body li').count()) === 2);
    await scenario(null);
  });

  // 5. errors are one line
  await step('error line', async () => {
    await scenario([{ match: { kind: 'live_handshake' }, count: -1, fault: { status: 404 } },
                    { match: { kind: 'rest' }, count: -1, fault: { status: 400 } }]);
    await page.fill('#input', 'this one fails');
    await page.click('#send');
    await page.waitForSelector('#error:not([hidden])', { timeout: T });
    const err = await page.textContent('#error');
    check('a failed answer shows one error line', err.length > 0 && !err.includes('\n'), err);
    await scenario(null);
  });

  // 6. the conversation survives a reload
  await step('reload', async () => {
    const before = await page.locator('.msg').count();
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('.msg');
    const after = await page.locator('.msg').count();
    check('the conversation is kept across a reload', after === before && after >= 6, `${before} -> ${after}`);
    const labels = await page.locator('.msg.model .transport').allTextContents();
    check('transport labels are kept', labels.some((l) => l.startsWith('Live')) && labels.some((l) => l.startsWith('REST')), labels.join(', '));
    fs.mkdirSync(artifacts, { recursive: true });
    const shot = path.join(artifacts, 'chat-page.png');
    await page.screenshot({ path: shot });
    check('screenshot taken', fs.statSync(shot).size > 10000);
    console.log('# screenshot: ' + shot);
  });

  // 7. new chat empties it (and the storage)
  await step('new chat', async () => {
    await page.click('#new-chat');
    check('"New chat" forgets the conversation', (await page.locator('.msg').count()) === 0
      && await page.evaluate(() => JSON.parse(localStorage.getItem('glrun.chat.v1')).messages.length === 0));
  });

  check('no page error, no CSP refusal', problems.length === 0, problems.join('; '));
} finally {
  await browser.close();
}
console.log(`# ${checks - failures} of ${checks} checks passed`);
process.exit(failures ? 1 : 0);
