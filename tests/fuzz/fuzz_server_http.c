/*
 * fuzz_server_http.c — glrun.server's HTTP/1.1 request glue
 * (runtime/server_http.c over http-parser: header accumulation, limits,
 * keep-alive, pipelining through the stash, Expect: 100-continue, the
 * ready queue) fed one connection's bytes in fuzzer-chosen reads.
 *
 * No socket, no loop, no Lua: server_http.c is linked with stand-ins for
 * what it calls in server_conn.c, server_ws.c, the scheduler and libuv
 * (below); they record output and mimic the connection state those
 * functions change (linger, reading, closing). The "handler" is this file:
 * it takes complete requests from the ready queue and answers them, or
 * upgrades a WebSocket request, as srv_req_* would.
 *
 * Input: byte 0 = options (bits 0-1 max_header, 2-3 max_body, 4 upgrade
 * WebSocket requests, 5 the listener is closed (503), 6
 * answer with an error status and Connection: close), byte 1 = number of
 * reads n (0..15), then n bytes: read length (low 7 bits + 1), bit 7 =
 * the handler runs after this read; the rest of the input is the stream
 * (what the table does not cover is one last read).
 *
 * Invariants (abort() when broken): each accepted request is complete, its
 * request target occurs in the stream after the previous one's, target
 * plus headers stay within max_header, the body within max_body, header
 * names/values are NUL-terminated strings, a WebSocket request is a GET;
 * after C answered an error (400/405/408/413/431/503) nothing more is
 * accepted nor parsed; "100 Continue" only for a request that asked; a
 * connection never holds more than one request at a time; no leaks.
 */
#define _GNU_SOURCE   /* memmem */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stand-ins --------------------------------------------------------- */

static gl_buf out;            /* bytes "sent" to the client */
static gl_buf ws_in;          /* bytes handed to the WebSocket side */
static size_t n_continue;

void gl_log(int level, const char *module, const char *fmt, ...)
{
    (void)level; (void)module; (void)fmt;
}
void gl_wake(gl_waiter *w) { (void)w; }
int uv_timer_stop(uv_timer_t *t) { (void)t; return 0; }
int uv_read_stop(uv_stream_t *s) { (void)s; return 0; }

int srv_conn_send(srv_conn *c, const void *p, size_t n)
{
    if (c->closing || c->gone) return -1;
    if (n == 25 && !memcmp(p, "HTTP/1.1 100 Continue\r\n\r\n", 25)) n_continue++;
    gl_buf_add(&out, p, n);
    return 0;
}
void srv_conn_close_after_flush(srv_conn *c)
{
    if (c->closing) return;
    if (c->close_after < 2) c->close_after = 2;
    c->linger = 1;
}
void srv_head_timer_start(srv_conn *c) { (void)c; }
void srv_read_start(srv_conn *c) { if (!c->closing) c->reading = 1; }
void srv_ws_feed(srv_conn *c, unsigned char *p, size_t n)
{
    if (c->phase != CP_WS) abort();
    gl_buf_add(&ws_in, p, n);
}

/* ---- the harness ------------------------------------------------------- */

static const uint8_t *stream;
static size_t stream_len, url_pos;
static unsigned opts;
static int answered_error, accepted;
static size_t out_at_error;

static int valid_method(const char *m)
{
    return *m && strlen(m) < 24;
}

static void check_reply(srv_listener *l, srv_conn *c, size_t at);

/* The handler: take what accept() would and answer it. */
static void handle(srv_listener *l, srv_conn *c)
{
    srv_conn *r;
    size_t at, stashed;
    while ((r = srv_accept_pop(l)) != NULL) {
        const unsigned char *u;
        int i;
        if (r != c || !c->msg_done || answered_error || c->linger) abort();
        if (l->ready_head) abort();                  /* one request at a time */
        if (!valid_method(c->method)) abort();
        /* the target is exactly bytes of the stream, in order */
        if (c->url.len == 0 || c->url.len > l->max_header) abort();
        u = memmem(stream + url_pos, stream_len - url_pos, c->url.p, c->url.len);
        if (!u) abort();
        url_pos = (size_t)(u - stream) + c->url.len;
        if (c->hbytes > l->max_header) abort();
        if (c->body.len > l->max_body) abort();
        for (i = 0; i < c->nh; i++)
            if (strlen(c->hn[i]) + strlen(c->hv[i]) > l->max_header) abort();
        if (c->is_ws && strcmp(c->method, "GET")) abort();
        if (n_continue > (size_t)accepted + 1) abort();
        accepted++;
        if (l->closed) abort();

        if (c->is_ws && (opts & 0x10)) {             /* req:upgrade() */
            gl_buf st;
            static const char h[] = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
            c->rstate = RS_DONE;
            if (srv_conn_send(c, h, sizeof h - 1) < 0) abort();
            c->phase = CP_WS;
            c->ws_state = WSS_OPEN;
            st = c->stash;
            memset(&c->stash, 0, sizeof c->stash);
            if (st.len) srv_ws_feed(c, (unsigned char *)st.p, st.len);
            gl_buf_free(&st);
            srv_read_start(c);
            return;
        }
        if (opts & 0x40) {                           /* an answer that closes */
            c->close_after = 1;
        }
        srv_conn_send(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
        at = out.len;
        stashed = c->stash.len;
        srv_request_done(c);                         /* may parse the next one */
        check_reply(l, c, at);
        /* kept alive: nothing of the finished request is left for the next
         * one (checked when no stashed bytes began the next one at once) */
        if (!stashed && !c->linger &&
            (c->phase != CP_HEAD || c->msg_done || c->head_req || c->is_ws || c->reject ||
             c->expect_sent || c->body.len || c->url.len || c->nh || c->hbytes))
            abort();
    }
}

/* Feed one read as on_read() would; 0 when the connection stopped reading. */
/* After C answered 4xx/503 (and closes): that answer is whole, its
 * Content-Length bytes follow unless the request it answers is a HEAD. */
static void check_reply(srv_listener *l, srv_conn *c, size_t at)
{
    const char *r, *e, *cl, *end;
    if (!l->rejected || answered_error) return;
    answered_error = 1;
    if (!out.p) abort();
    out_at_error = out.len;
    r = out.p + at;
    e = out.p + out.len;
    while (e - r >= 25 && !memcmp(r, "HTTP/1.1 100 Continue\r\n\r\n", 25))
        r += 25;
    if (e - r < 12 || memcmp(r, "HTTP/1.1 ", 9)) abort();
    end = memmem(r, (size_t)(e - r), "\r\n\r\n", 4);
    cl = memmem(r, (size_t)(e - r), "Content-Length: ", 16);
    if (!end || !cl || cl > end) abort();
    if ((size_t)(e - end - 4) != (c->head_req ? 0 : strtoul(cl + 16, NULL, 10))) abort();
}

/* Feed one read as on_read() would; 0 when the connection stopped reading. */
static int feed(srv_listener *l, srv_conn *c, const uint8_t *p, size_t n)
{
    char *copy;
    size_t at = out.len;
    if (c->closing || !c->reading) return 0;
    copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    srv_conn_feed(c, copy, n);
    free(copy);
    check_reply(l, c, at);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t hdr_max[4] = { 16384, 64, 256, 1024 };
    static const size_t body_max[4] = { 1 << 20, 0, 16, 100 };
    static int inited;
    srv_listener l;
    srv_conn *c;
    size_t nreads, i, pos;
    unsigned long long rejected_before;

    if (size < 2) return 0;
    if (!inited) { srv_http_init(); inited = 1; }
    opts = data[0];
    nreads = data[1] & 15;
    if (size < 2 + nreads) return 0;
    stream = data + 2 + nreads;
    stream_len = size - 2 - nreads;
    url_pos = 0;
    answered_error = accepted = 0;
    out_at_error = 0;
    n_continue = 0;
    memset(&out, 0, sizeof out);
    memset(&ws_in, 0, sizeof ws_in);

    memset(&l, 0, sizeof l);
    l.max_header = hdr_max[opts & 3];
    l.max_body = body_max[(opts >> 2) & 3];
    l.header_timeout = 30;
    l.closed = (opts & 0x20) != 0;
    snprintf(l.host, sizeof l.host, "127.0.0.1");
    c = calloc(1, sizeof *c);
    c->l = &l;
    snprintf(c->peer, sizeof c->peer, "127.0.0.1");
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    c->reading = 1;
    c->phase = CP_HEAD;
    rejected_before = l.rejected;

    pos = 0;
    for (i = 0; i <= nreads && pos < stream_len; i++) {
        size_t n = i < nreads ? (size_t)(data[2 + i] & 0x7f) + 1 : stream_len - pos;
        int run = i < nreads ? (data[2 + i] & 0x80) != 0 : 1;
        int was_closing = c->linger;
        size_t ws_before = ws_in.len, out_before = out.len;
        if (n > stream_len - pos) n = stream_len - pos;
        if (!c->reading) handle(&l, c);              /* a paused socket waits for the handler */
        if (!feed(&l, c, stream + pos, n)) break;
        /* once closing (an error answer, or Connection: close), bytes are
         * dropped: nothing parsed, sent or upgraded */
        if (was_closing && (out.len != out_before || ws_in.len != ws_before)) abort();
        pos += n;
        if (run) handle(&l, c);
    }
    handle(&l, c);
    if (answered_error && out.len != out_at_error) abort();
    if (l.rejected > rejected_before && l.ready_head) abort();

    /* what srv_conn_maybe_free() frees */
    srv_request_free(c);
    free(c->hn);
    free(c->hv);
    gl_buf_free(&c->stash);
    free(c);
    gl_buf_free(&out);
    gl_buf_free(&ws_in);
    return 0;
}
