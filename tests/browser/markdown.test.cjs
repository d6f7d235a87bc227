// Unit tests of the chat page's Markdown renderer and SSE parser
// (web/app.js), run with node by tests/e2e/page_markdown.sh.
"use strict";
const assert = require("node:assert/strict");
const path = require("node:path");
const { renderMarkdown, escapeHtml, sseParser } = require(path.join(process.env.SRC || path.join(__dirname, "../.."), "web/app.js"));

let failed = 0, passed = 0;
function check(name, fn) {
  try { fn(); passed++; console.log("ok - " + name); }
  catch (e) { failed++; console.log("not ok - " + name + ": " + String(e.message).split("\n").join(" | ")); }
}
const md = renderMarkdown;

check("HTML is escaped", () => {
  assert.equal(md("<script>alert(1)</script>"), "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
  assert.equal(md('<img src=x onerror="a()">'), "<p>&lt;img src=x onerror=&quot;a()&quot;&gt;</p>");
  assert.equal(escapeHtml(`&<>"'`), "&amp;&lt;&gt;&quot;&#39;");
});
check("no tag from the text survives anywhere", () => {
  const evil = "# <b>h</b>\n- <i>x</i>\n> <u>q</u>\n**<s>b</s>** `<t>` [<a>](http://x/<y>)\n```\n<pre>\n```";
  const out = md(evil);
  for (const tag of ["<b>", "<i>", "<u>", "<s>", "<t>", "<y>", "<a>"]) assert.ok(!out.includes(tag), tag + " in " + out);
});
check("code fence", () => {
  assert.equal(md("```lua\nprint(\"<hi>\")\n```"), '<pre><code class="language-lua">print(&quot;&lt;hi&gt;&quot;)</code></pre>');
});
check("code fence keeps Markdown characters literally", () => {
  assert.equal(md("```\n**not bold** # no\n- no\n```"), "<pre><code>**not bold** # no\n- no</code></pre>");
});
check("an unterminated fence (still streaming) runs to the end", () => {
  assert.equal(md("text\n```js\nlet a = 1;"), '<p>text</p>\n<pre><code class="language-js">let a = 1;</code></pre>');
});
check("fence language cannot break out of its attribute", () => {
  const out = md('```a"b\nx\n```');
  assert.ok(!out.includes('"b'), out);
});
check("inline code is not interpreted", () => {
  assert.equal(md("use `a *b* <c>` here"), "<p>use <code>a *b* &lt;c&gt;</code> here</p>");
});
check("bold and italic", () => {
  assert.equal(md("**bold** and *it* and _it2_ and __b2__"),
    "<p><strong>bold</strong> and <em>it</em> and <em>it2</em> and <strong>b2</strong></p>");
});
check("snake_case and 2*3*4 stay as they are", () => {
  assert.equal(md("snake_case_name and 2*3*4"), "<p>snake_case_name and 2*3*4</p>");
});
check("headings", () => {
  assert.equal(md("# One\n### Three ###"), "<h1>One</h1>\n<h3>Three</h3>");
  assert.equal(md("#not a heading"), "<p>#not a heading</p>");
});
check("lists", () => {
  assert.equal(md("- a\n- **b**\n\n1. x\n2) y"), "<ul><li>a</li><li><strong>b</strong></li></ul>\n<ol><li>x</li><li>y</li></ol>");
  assert.equal(md("* a\n  more"), "<ul><li>a more</li></ul>");
});
check("paragraphs and line breaks", () => {
  assert.equal(md("a\nb\n\nc"), "<p>a<br>b</p>\n<p>c</p>");
  assert.equal(md(""), "");
  assert.equal(md(null), "");
});
check("http and https links get rel=noopener", () => {
  assert.equal(md("[x](https://example.com/a?b=1&c=2)"),
    '<p><a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer" target="_blank">x</a></p>');
  assert.ok(md("[x](http://e.org)").includes('href="http://e.org"'));
});
check("other link schemes stay text", () => {
  for (const url of ["javascript:alert(1)", "data:text/html,x", "vbscript:x", "/relative", "JAVASCRIPT:alert(1)", "file:///etc/passwd"]) {
    const out = md("[x](" + url + ")");
    assert.ok(!out.includes("<a"), url + " -> " + out);
  }
});
check("a link URL cannot add attributes", () => {
  const out = md('[x](https://e.org/"onmouseover="a())');
  assert.ok(!/onmouseover="/.test(out), out);
});
check("blockquote and rule", () => {
  assert.equal(md("> quoted\n\n---"), "<blockquote>quoted</blockquote>\n<hr>");
});
check("NUL characters cannot forge code placeholders", () => {
  const out = md("a \u00000\u0000 `<x>`");
  assert.ok(!out.includes("\u0000"), JSON.stringify(out));
  assert.ok(out.includes("<code>&lt;x&gt;</code>"), out);
});
check("SSE parser: events split across chunks, CRLF, comments", () => {
  const got = [];
  const feed = sseParser((n, d) => got.push([n, d]));
  feed("event: transport\r\ndata: {\"transport\":\"rest\"}\r\n\r\n: keepalive\n\nevent: te");
  feed("xt\ndata: {\"text\":\"a\"}\n\ndata: plain\n\n");
  assert.deepEqual(got, [["transport", '{"transport":"rest"}'], ["text", '{"text":"a"}'], ["message", "plain"]]);
});

console.log(`# ${passed} of ${passed + failed} checks passed`);
process.exit(failed ? 1 : 0);
