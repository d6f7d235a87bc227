// glrun chat — the browser page served by `glrun serve` (docs/page.md).
// Plain JavaScript, no build step: a small safe Markdown renderer, and the
// page that streams answers from POST /api/chat (Server-Sent Events).
// In node (tests/e2e/page_markdown.sh) only the renderer is exported.
"use strict";

// ---------------------------------------------------------------------------
// Markdown, safely: every character of the text is HTML-escaped first; the
// renderer then adds only its own tags. Links are kept for http(s) only.
// ---------------------------------------------------------------------------

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

// Inline Markdown of one escaped line: `code`, **bold**, *italic*, _italic_,
// [text](http://...). Code spans are set aside first so nothing inside
// them is interpreted.
function renderInline(escaped) {
  const codes = [];
  let s = escaped.replace(/`([^`]+)`/g, (_, code) => {
    codes.push("<code>" + code + "</code>");
    return "\u0000" + (codes.length - 1) + "\u0000";
  });
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (all, text, url) => {
    if (!/^https?:\/\//i.test(url)) return all;
    return '<a href="' + url + '" rel="noopener noreferrer" target="_blank">' + text + "</a>";
  });
  s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/__(?=\S)([\s\S]*?\S)__/g, "<strong>$1</strong>");
  s = s.replace(/(^|[^*\w])\*(?=\S)([^*]*?\S)\*(?![*\w])/g, "$1<em>$2</em>");
  s = s.replace(/(^|[^_\w])_(?=\S)([^_]*?\S)_(?![_\w])/g, "$1<em>$2</em>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

// The whole text as HTML: fenced code blocks, headings, lists, quotes and
// paragraphs. An unterminated fence (an answer still streaming) runs to the end.
function renderMarkdown(text) {
  const lines = String(text == null ? "" : text).replace(/\u0000/g, "").replace(/\r\n?/g, "\n").split("\n");
  const out = [];
  let para = [];
  let list = null; // { tag: "ul" | "ol", items: [] }
  const flushPara = () => {
    if (para.length) out.push("<p>" + para.map((l) => renderInline(escapeHtml(l))).join("<br>") + "</p>");
    para = [];
  };
  const flushList = () => {
    if (list) out.push("<" + list.tag + ">" + list.items.map((i) => "<li>" + renderInline(escapeHtml(i)) + "</li>").join("") + "</" + list.tag + ">");
    list = null;
  };
  const flush = () => { flushPara(); flushList(); };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```+|~~~+)\s*([\w+#.-]*)\s*$/.exec(line);
    if (fence) {
      flush();
      const body = [];
      let j = i + 1;
      while (j < lines.length && !(lines[j].trim().startsWith(fence[1]) && lines[j].trim().replace(/[`~]/g, "") === "")) {
        body.push(lines[j]);
        j++;
      }
      const lang = fence[2] ? ' class="language-' + escapeHtml(fence[2]) + '"' : "";
      out.push("<pre><code" + lang + ">" + escapeHtml(body.join("\n")) + "</code></pre>");
      i = j; // the closing fence (or past the end)
      continue;
    }
    let m;
    if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
      flush();
      const n = m[1].length;
      out.push("<h" + n + ">" + renderInline(escapeHtml(m[2])) + "</h" + n + ">");
    } else if ((m = /^\s*[-*+]\s+(.*)$/.exec(line)) && !/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flushPara();
      if (!list || list.tag !== "ul") { flushList(); list = { tag: "ul", items: [] }; }
      list.items.push(m[1]);
    } else if ((m = /^\s*\d{1,9}[.)]\s+(.*)$/.exec(line))) {
      flushPara();
      if (!list || list.tag !== "ol") { flushList(); list = { tag: "ol", items: [] }; }
      list.items.push(m[1]);
    } else if ((m = /^\s*>\s?(.*)$/.exec(line))) {
      flush();
      out.push("<blockquote>" + renderInline(escapeHtml(m[1])) + "</blockquote>");
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push("<hr>");
    } else if (line.trim() === "") {
      flush();
    } else if (list && /^\s{2,}\S/.test(line)) {
      list.items[list.items.length - 1] += " " + line.trim(); // a list item's continuation
    } else {
      flushList();
      para.push(line);
    }
  }
  flush();
  return out.join("\n");
}

// One Server-Sent Events stream, fed in pieces: calls onEvent(name, data)
// for each complete event (data lines joined by "\n").
function sseParser(onEvent) {
  let buf = "";
  return function feed(chunk) {
    buf += chunk.replace(/\r\n?/g, "\n");
    let at;
    while ((at = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        let value = c < 0 ? "" : line.slice(c + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) onEvent(name, data.join("\n"));
    }
  };
}

if (typeof module === "object" && module.exports) {
  module.exports = { renderMarkdown, renderInline, escapeHtml, sseParser };
}

// ---------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------

const STORE = "glrun.chat.v1";  // the conversation
const TOKEN = "glrun.token";     // the access token, when the server wants one

function startPage() {
  const $ = (id) => document.getElementById(id);
  const log = $("log"), input = $("input"), composer = $("composer"), sendBtn = $("send"),
    stopBtn = $("stop"), errorLine = $("error"), tokenForm = $("token-form"), tokenInput = $("token"),
    status = $("status"), empty = $("empty");

  // messages: { role: "user" | "model", text, transport?, model?, fallback?, state?: "done" | "stopped" | "error" | "streaming", note? }
  let messages = [];
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || "null");
    if (saved && Array.isArray(saved.messages)) messages = saved.messages.filter((m) => m && typeof m.text === "string");
  } catch (e) { messages = []; }
  let controller = null;   // the AbortController of the answer being streamed
  let pending = null;      // a message waiting for an access token

  const save = () => {
    try { localStorage.setItem(STORE, JSON.stringify({ messages }, (k, v) => (k === "el" ? undefined : v))); } catch (e) { /* storage full or off */ }
  };
  const showError = (msg) => {
    errorLine.textContent = msg ? String(msg).split("\n")[0] : "";
    errorLine.hidden = !msg;
  };
  const setBusy = (busy) => {
    sendBtn.disabled = busy;
    stopBtn.disabled = !busy;
    status.textContent = busy ? "answering…" : "";
    composer.setAttribute("aria-busy", busy ? "true" : "false");
  };

  function label(m) {
    const parts = [];
    if (m.transport) parts.push(m.transport === "live" ? "Live" : "REST");
    if (m.model) parts.push(m.model);
    return parts.join(" · ");
  }

  // one message as a DOM element (rendered text is escaped by renderMarkdown)
  function messageElement(m) {
    const el = document.createElement("article");
    el.className = "msg " + m.role + (m.state ? " " + m.state : "");
    const head = document.createElement("div");
    head.className = "meta";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = m.role === "user" ? "You" : "Gemini";
    head.appendChild(who);
    if (m.role === "model") {
      const tr = document.createElement("span");
      tr.className = "transport" + (m.transport ? " " + m.transport : "");
      tr.textContent = label(m) || "waiting…";
      head.appendChild(tr);
    }
    el.appendChild(head);
    if (m.fallback) {
      const fb = document.createElement("p");
      fb.className = "fallback";
      fb.textContent = "Fell back: " + m.fallback;
      fb.title = m.fallback; // the whole line, when it does not fit
      fb.tabIndex = 0;
      const toggle = () => fb.classList.toggle("open");
      fb.addEventListener("click", toggle);
      fb.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); } });
      el.appendChild(fb);
    }
    const body = document.createElement("div");
    body.className = "body";
    if (m.role === "user") {
      body.textContent = m.text;
    } else {
      body.innerHTML = renderMarkdown(m.text);
    }
    el.appendChild(body);
    if (m.note) {
      const n = document.createElement("p");
      n.className = "note";
      n.textContent = m.note;
      el.appendChild(n);
    }
    return el;
  }

  function renderAll() {
    for (const el of Array.from(log.querySelectorAll(".msg"))) el.remove();
    for (const m of messages) { m.el = messageElement(m); log.appendChild(m.el); }
    empty.hidden = messages.length > 0;
    log.scrollTop = log.scrollHeight;
  }
  function update(m) {
    const el = messageElement(m);
    if (m.el && m.el.parentNode) m.el.replaceWith(el); else log.appendChild(el);
    m.el = el;
    empty.hidden = true;
    log.scrollTop = log.scrollHeight;
  }

  // what the server is sent: the completed turns (a stopped or failed
  // answer and its question are left out, as in `glrun chat`), then the new one
  function history() {
    const out = [];
    for (let i = 0; i + 1 < messages.length; i++) {
      const u = messages[i], a = messages[i + 1];
      if (u.role === "user" && a.role === "model" && a.state === "done") {
        out.push({ role: "user", text: u.text }, { role: "model", text: a.text });
        i++;
      }
    }
    return out;
  }

  async function send(text) {
    showError("");
    const prior = history();
    const user = { role: "user", text };
    const answer = { role: "model", text: "", state: "streaming" };
    messages.push(user, answer);
    update(user); update(answer);
    save();
    setBusy(true);
    controller = new AbortController();
    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    const token = localStorage.getItem(TOKEN);
    if (token) headers.Authorization = "Bearer " + token;
    let frame = 0;
    const redraw = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => { frame = 0; update(answer); });
    };
    try {
      const res = await fetch("/api/chat", {
        method: "POST", headers, signal: controller.signal,
        body: JSON.stringify({ messages: prior.concat([{ role: "user", text }]) }),
      });
      if (res.status === 401) {
        messages.splice(messages.indexOf(user), 2);
        renderAll(); save();
        pending = text;
        tokenForm.hidden = false;
        showError(token ? "The access token was refused: enter another one." : "This server needs an access token.");
        tokenInput.focus();
        return;
      }
      if (!res.ok || !res.body) {
        let msg = "HTTP " + res.status;
        try { const j = await res.json(); if (j && j.error && j.error.message) msg += ": " + j.error.message; } catch (e) { /* not JSON */ }
        throw new Error(msg);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let failed = null;
      const feed = sseParser((name, data) => {
        let d = {};
        try { d = JSON.parse(data); } catch (e) { return; }
        if (name === "transport") {
          answer.transport = d.transport; answer.model = d.model;
          if (d.fallback) answer.fallback = d.fallback;
          update(answer);
        } else if (name === "restart") {
          answer.text = "";
          answer.note = "The answer was restarted: " + (d.reason || "the connection broke");
          update(answer);
        } else if (name === "text") {
          answer.text += d.text || "";
          redraw();
        } else if (name === "done") {
          answer.state = "done";
          if (d.finishReason && d.finishReason !== "STOP") answer.note = "Finished: " + d.finishReason;
        } else if (name === "error") {
          failed = d.message || "the answer failed";
        }
      });
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        feed(decoder.decode(value, { stream: true }));
      }
      feed(decoder.decode() + "\n\n");
      if (!failed && answer.state !== "done") failed = "The answer ended early.";
      if (failed) { answer.state = "error"; answer.note = "No answer: " + failed; showError(failed); }
    } catch (e) {
      if (e && e.name === "AbortError") {
        answer.state = "stopped";
        answer.note = "Stopped.";
      } else {
        answer.state = "error";
        answer.note = "No answer: " + (e && e.message ? e.message : String(e)).split("\n")[0];
        showError(e && e.message ? e.message : String(e));
      }
    } finally {
      if (frame) { cancelAnimationFrame(frame); frame = 0; }
      controller = null;
      setBusy(false);
      if (messages.includes(answer)) update(answer);
      save();
      input.focus();
    }
  }

  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || controller) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  stopBtn.addEventListener("click", () => { if (controller) controller.abort(); });
  $("new-chat").addEventListener("click", () => {
    if (controller) controller.abort();
    messages = [];
    save();
    renderAll();
    showError("");
    input.focus();
  });
  tokenForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = tokenInput.value.trim();
    if (!t) return;
    localStorage.setItem(TOKEN, t);
    tokenInput.value = "";
    tokenForm.hidden = true;
    showError("");
    const text = pending;
    pending = null;
    if (text) send(text); else input.focus();
  });

  // an answer that was streaming when the page went away did not finish
  for (const m of messages) if (m.state === "streaming") { m.state = "stopped"; m.note = "Interrupted."; }
  renderAll();
  setBusy(false);
  input.focus();
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startPage);
  else startPage();
}
