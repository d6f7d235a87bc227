/*
 * fuzz_server_ws.c — glrun.server's WebSocket frame parser
 * (runtime/server_ws.c: srv_ws_feed and what it calls: masking, lengths,
 * fragmentation, control frames between fragments, close payloads, the
 * max_ws_message bound, UTF-8 through ws_reasm) fed what a client sends,
 * in fuzzer-chosen reads.
 *
 * No socket and no running loop: server_ws.c is linked with stand-ins for
 * what it calls in server_conn.c and the scheduler (below), which record
 * the frames "sent" and mimic the connection state they change.
 *
 * Input: byte 0 = options (bits 0-2 max_ws_message, bit 3 the handler
 * takes the received messages after each read), byte 1 = number of reads
 * n (0..15), then n bytes: read length (low 7 bits + 1), bit 7 = the
 * handler takes messages after this read; the rest is the stream.
 *
 * Checked (abort() when broken): every message delivered is at most
 * max_ws_message bytes, a text message is valid UTF-8; after the
 * connection failed (ws_fail) or the client's close frame, nothing more
 * is delivered nor sent; a failure closes with 1002/1007/1009/1011 and
 * that code is the last frame sent; a client close that is accepted has a
 * valid code (or none) and a UTF-8 reason, and is echoed; and the
 * whole outcome (messages, close code and reason, bytes sent) is the same
 * when the stream arrives in one read. No leaks.
 */
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* ---- stand-ins --------------------------------------------------------- */

static gl_buf out;

void gl_wake(gl_waiter *w) { (void)w; }
void gl_waiter_cancel(gl_waiter *w) { (void)w; }
int gl_yield(lua_State *L, gl_waiter *w, lua_KContext ctx, lua_KFunction k)
{
    (void)L; (void)w; (void)ctx; (void)k;
    abort();
}
int srv_conn_send(srv_conn *c, const void *p, size_t n)
{
    if (c->closing || c->gone) return -1;
    gl_buf_add(&out, p, n);
    return 0;
}
void srv_conn_close_after_flush(srv_conn *c)
{
    if (c->closing) return;
    if (c->close_after < 2) c->close_after = 2;
    c->linger = 1;
}
void srv_conn_close(srv_conn *c) { c->closing = c->gone = 1; }
void srv_conn_maybe_free(srv_conn *c) { (void)c; }
void srv_ws_resume_rx(srv_conn *c) { c->rx_paused = 0; }

/* ---- checks ------------------------------------------------------------ */

static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], len, k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i < len) return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

/* The last frame the server sent: its opcode and payload (frames it sends
 * are unmasked). -1 when nothing was sent. */
static int last_frame(const gl_buf *b, const unsigned char **pay, size_t *plen)
{
    size_t i = 0;
    int op = -1;
    const unsigned char *s = (const unsigned char *)b->p;
    while (i + 2 <= b->len) {
        uint64_t len = s[i + 1] & 0x7f;
        size_t h = 2;
        if (s[i + 1] & 0x80) abort();                 /* server frames are never masked */
        if (len == 126) { len = (uint64_t)s[i + 2] << 8 | s[i + 3]; h = 4; }
        else if (len == 127) {
            int k;
            for (len = 0, k = 0; k < 8; k++) len = len << 8 | s[i + 2 + k];
            h = 10;
        }
        if (i + h + len > b->len) abort();            /* frames are sent whole */
        op = s[i] & 0x0f;
        *pay = s + i + h;
        *plen = (size_t)len;
        i += h + (size_t)len;
    }
    if (i != b->len) abort();
    return op;
}

typedef struct outcome {
    gl_buf msgs;            /* [binary][len:8][bytes]... */
    int close_code, ws_err, peer_closed, state;
    char *reason;
    gl_buf sent;
} outcome;

static size_t max_msg;

static void take(srv_conn *c, outcome *o)
{
    srv_msg *m;
    while ((m = c->in_head) != NULL) {
        uint64_t len = m->len;
        unsigned char b = (unsigned char)m->binary;
        c->in_head = m->next;
        if (!c->in_head) c->in_tail = NULL;
        c->in_count--;
        c->in_bytes -= m->len;
        if (m->len > max_msg) abort();
        if (!m->binary && !utf8_ok(m->data, m->len)) abort();
        gl_buf_add(&o->msgs, &b, 1);
        gl_buf_add(&o->msgs, &len, sizeof len);
        gl_buf_add(&o->msgs, m->data, m->len);
        free(m->data);
        free(m);
    }
}

static void run(const uint8_t *reads, size_t nreads, const uint8_t *s, size_t n, int drain,
                outcome *o)
{
    srv_listener l;
    srv_conn *c = calloc(1, sizeof *c);
    size_t pos = 0, i;
    memset(&l, 0, sizeof l);
    l.max_ws_message = max_msg;
    c->l = &l;
    c->phase = CP_WS;
    c->ws_state = WSS_OPEN;
    uv_timer_init(uv_default_loop(), &c->timer);
    c->timer.data = c;
    memset(&out, 0, sizeof out);
    memset(o, 0, sizeof *o);

    for (i = 0; i <= nreads && pos < n; i++) {
        size_t k = i < nreads ? (size_t)(reads[i] & 0x7f) + 1 : n - pos;
        int was_closed = c->ws_state == WSS_CLOSED;
        size_t sent_before = out.len, got_before = c->msgs_in;
        unsigned char *copy;
        if (k > n - pos) k = n - pos;
        copy = malloc(k);
        memcpy(copy, s + pos, k);      /* unmasked in place, as the read buffer is */
        srv_ws_feed(c, copy, k);
        free(copy);
        pos += k;
        if (was_closed && (out.len != sent_before || c->msgs_in != got_before)) abort();
        if (drain || (i < nreads && (reads[i] & 0x80))) take(c, o);
    }
    take(c, o);

    if (c->ws_err || c->peer_closed) {
        const unsigned char *pay;
        size_t plen;
        int op = last_frame(&out, &pay, &plen);
        if (c->ws_state != WSS_CLOSED || !c->linger) abort();
        if (op != 8) abort();                          /* our close frame is last */
        if (c->ws_err) {
            if (c->close_code != 1002 && c->close_code != 1007 && c->close_code != 1009 &&
                c->close_code != 1011) abort();
            if (plen < 2 || (pay[0] << 8 | pay[1]) != c->close_code) abort();
        } else {
            /* the client's close was well-formed (RFC 6455 5.5.1, 7.4) and is
             * echoed with its code (none for a close without one) */
            int code = c->close_code;
            if (c->ctl_len == 1 || (c->ctl_len == 0) != (code == 1005)) abort();
            if (code != 1005 && !((code >= 1000 && code <= 1014 && code != 1004 && code != 1006) ||
                                  (code >= 3000 && code <= 4999))) abort();
            if (!c->close_reason || !utf8_ok((const unsigned char *)c->close_reason,
                                             strlen(c->close_reason))) abort();
            if (code == 1005 ? plen != 0 || *c->close_reason
                             : plen != 2 || (pay[0] << 8 | pay[1]) != code) abort();
        }
    } else {
        const unsigned char *pay;
        size_t plen;
        if (c->ws_state != WSS_OPEN) abort();
        if (last_frame(&out, &pay, &plen) == 8) abort();
    }
    o->close_code = c->close_code;
    o->ws_err = c->ws_err;
    o->peer_closed = c->peer_closed;
    o->state = c->ws_state;
    o->reason = c->close_reason ? strdup(c->close_reason) : NULL;
    o->sent = out;
    memset(&out, 0, sizeof out);

    srv_ws_free(c);
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_run(uv_default_loop(), UV_RUN_NOWAIT);
    free(c);
}

static void outcome_free(outcome *o)
{
    gl_buf_free(&o->msgs);
    gl_buf_free(&o->sent);
    free(o->reason);
}

static int buf_eq(const gl_buf *a, const gl_buf *b)
{
    return a->len == b->len && (!a->len || !memcmp(a->p, b->p, a->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[8] = { 1 << 20, 0, 1, 8, 125, 126, 1000, 65536 };
    size_t nreads;
    outcome a, b;
    if (size < 2) return 0;
    nreads = data[1] & 15;
    if (size < 2 + nreads) return 0;
    max_msg = maxes[data[0] & 7];
    run(data + 2, nreads, data + 2 + nreads, size - 2 - nreads, (data[0] & 8) != 0, &a);
    run(NULL, 0, data + 2 + nreads, size - 2 - nreads, 0, &b);
    if (!buf_eq(&a.msgs, &b.msgs) || !buf_eq(&a.sent, &b.sent) || a.close_code != b.close_code ||
        a.ws_err != b.ws_err || a.peer_closed != b.peer_closed || a.state != b.state ||
        !a.reason != !b.reason || (a.reason && strcmp(a.reason, b.reason)))
        abort();
    outcome_free(&a);
    outcome_free(&b);
    return 0;
}
