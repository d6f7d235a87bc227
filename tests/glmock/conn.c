/* TCP server and connections: accept, HTTP/1.1 request parsing with
 * http-parser (keep-alive, pipelining, bodies up to GLMOCK_MAX_BODY), the
 * paced output queue, and orderly or abrupt close. Requests are parsed ahead
 * into a small queue; one response is in progress at a time. Reading never
 * stops while a response streams, so a client that goes away is noticed. */
#include "glmock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>

static uv_tcp_t g_listener;
static bool g_listening;
static conn_t *g_conns;
static uint64_t g_next_id = 1;
static http_parser_settings g_settings;

/* ------------------------------------------------------------------ writes */

typedef struct {
    uv_write_t w;
    char *owned;
    char data[];
} wreq_t;

static void on_write(uv_write_t *w, int status)
{
    wreq_t *wr = (wreq_t *)w;
    conn_t *c = w->data;
    free(wr->owned);
    free(wr);
    if (status < 0) {
        LOG("conn %llu: write failed: %s", (unsigned long long)c->id, uv_strerror(status));
        conn_close(c);
        return;
    }
    if (!c->closing) oq_pump(c);
}

static void write_raw(conn_t *c, const void *p, size_t n, char *owned)
{
    if (c->closing || c->shutting) { free(owned); return; }
    wreq_t *wr;
    uv_buf_t b;
    if (owned) {
        wr = xmalloc(sizeof *wr);
        wr->owned = owned;
        b = uv_buf_init(owned, (unsigned)n);
    } else {
        wr = xmalloc(sizeof *wr + n);
        wr->owned = NULL;
        memcpy(wr->data, p, n);
        b = uv_buf_init(wr->data, (unsigned)n);
    }
    wr->w.data = c;
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(wr->owned);
        free(wr);
        conn_close(c);
    }
}

void conn_write(conn_t *c, const void *p, size_t n) { write_raw(c, p, n, NULL); }
void conn_write_owned(conn_t *c, char *p, size_t n) { write_raw(c, p, n, p); }

/* ------------------------------------------------------------------ close */

void req_free(req_t *r)
{
    if (!r) return;
    free(r->url);
    free(r->path);
    free(r->query);
    free(r->api_key);
    free(r->authorization);
    free(r->content_type);
    free(r->upgrade);
    free(r->connection);
    free(r->ws_key);
    free(r->ws_version);
    buf_free(&r->body);
    json_decref(r->headers);
    free(r);
}

static void oq_free(conn_t *c)
{
    while (c->oq_head) {
        item_t *it = c->oq_head;
        c->oq_head = it->next;
        free(it);
    }
    c->oq_tail = NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0) return;
    req_free(c->cur);
    req_free(c->held);
    while (c->rq_head) {
        req_t *r = c->rq_head;
        c->rq_head = r->next;
        req_free(r);
    }
    oq_free(c);
    buf_free(&c->hfield);
    buf_free(&c->hval);
    buf_free(&c->wsin);
    buf_free(&c->wsmsg);
    json_decref(c->echo_headers);
    free(c);
}

void conn_close(conn_t *c)
{
    if (c->closing) return;
    c->closing = true;
    LOG("conn %llu: closed", (unsigned long long)c->id);
    if (c->live) {
        live_on_close(c);
        live_free(c->live);
        c->live = NULL;
    }
    if (c->prev) c->prev->next = c->next; else g_conns = c->next;
    if (c->next) c->next->prev = c->prev;
    oq_free(c);
    uv_close((uv_handle_t *)&c->tick, on_handle_closed);
    uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
    conn_t *c = s->data;
    (void)status;
    free(s);
    conn_close(c);
}

/* Stop writing; everything already written is flushed before the socket closes. */
void conn_shutdown(conn_t *c)
{
    if (c->closing || c->shutting) return;
    c->shutting = true;
    oq_free(c);
    uv_shutdown_t *s = xmalloc(sizeof *s);
    s->data = c;
    if (uv_shutdown(s, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(s);
        conn_close(c);
    }
}

/* ------------------------------------------------------------------ output queue */

item_t *oq_push(conn_t *c, int kind, const void *p, size_t n, unsigned delay_ms)
{
    item_t *it = xmalloc(sizeof *it + n + 1);
    it->next = NULL;
    it->kind = kind;
    it->delay_ms = delay_ms;
    it->turn = 0;
    it->fn = NULL;
    it->len = n;
    if (n) memcpy(it->data, p, n);
    it->data[n] = 0;
    if (c->oq_tail) c->oq_tail->next = it; else c->oq_head = it;
    c->oq_tail = it;
    return it;
}

void oq_clear_turn(conn_t *c, int turn)
{
    item_t *old_head = c->oq_head;
    item_t **pp = &c->oq_head;
    c->oq_tail = NULL;
    while (*pp) {
        item_t *it = *pp;
        if (it->turn == turn) {
            *pp = it->next;
            free(it);
        } else {
            c->oq_tail = it;
            pp = &it->next;
        }
    }
    if (c->oq_head != old_head) {
        /* The pending delay belonged to a dropped item. */
        c->delay_done = false;
        if (c->timer_running) {
            uv_timer_stop(&c->tick);
            c->timer_running = false;
        }
    }
}

bool oq_has_turn(conn_t *c, int turn)
{
    for (item_t *it = c->oq_head; it; it = it->next)
        if (it->turn == turn) return true;
    return false;
}

static void on_tick(uv_timer_t *t)
{
    conn_t *c = t->data;
    c->timer_running = false;
    c->delay_done = true;
    oq_pump(c);
}

static void serve_queued(conn_t *c);

void oq_pump(conn_t *c)
{
    while (c->oq_head && !c->closing && !c->shutting) {
        item_t *it = c->oq_head;
        if (it->delay_ms && !c->delay_done) {
            if (!c->timer_running) {
                c->timer_running = true;
                uv_timer_start(&c->tick, on_tick, it->delay_ms, 0);
            }
            return;
        }
        /* Don't pile megabytes into the kernel/libuv queue: wait for drain. */
        if (it->kind == IT_DATA && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > (1u << 20))
            return;
        c->oq_head = it->next;
        if (!c->oq_head) c->oq_tail = NULL;
        c->delay_done = false;
        switch (it->kind) {
        case IT_DATA:
            conn_write(c, it->data, it->len);
            break;
        case IT_END:
            free(it);
            conn_request_done(c);
            continue;
        case IT_END_CLOSE:
            free(it);
            conn_shutdown(c);
            return;
        case IT_ABORT:
            free(it);
            conn_shutdown(c);
            return;
        case IT_WS_CLOSE:
            conn_write(c, it->data, it->len);
            c->ws_close_sent = true;
            free(it);
            ws_on_close_handshake_done(c);
            return;
        case IT_TURN_END:
            break;
        case IT_CALL:
            if (it->fn) {
                item_fn fn = it->fn;
                free(it);
                fn(c);
                continue;
            }
            break;
        }
        free(it);
    }
}

/* ------------------------------------------------------------------ requests */

void conn_request_done(conn_t *c)
{
    c->busy = false;
    if (c->closing || c->shutting) return;
    serve_queued(c);
}

static void dispatch(conn_t *c, req_t *r)
{
    LOG("conn %llu: %s %s", (unsigned long long)c->id, http_method_str(r->method), r->path);
    c->busy = true;
    rest_handle(c, r);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b);

static void serve_queued(conn_t *c)
{
    while (!c->busy && c->rq_head && !c->closing && !c->shutting) {
        req_t *r = c->rq_head;
        c->rq_head = r->next;
        if (!c->rq_head) c->rq_tail = NULL;
        c->rq_len--;
        dispatch(c, r);
        if (c->held != r) req_free(r);     /* held: answered after a scenario delay */
    }
    if (!c->reading && !c->eof && !c->closing && c->mode == 0 && c->rq_len < GLMOCK_MAX_QUEUED) {
        c->reading = true;
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    }
    if (!c->busy && !c->rq_head && c->eof && !c->closing && c->mode == 0)
        conn_shutdown(c);
}

static void commit_header(conn_t *c)
{
    if (!c->hfield.len) return;
    req_t *r = c->cur;
    const char *f = buf_cstr(&c->hfield);
    char **slot = NULL;
    if (!strcasecmp(f, "x-goog-api-key")) slot = &r->api_key;
    else if (!strcasecmp(f, "authorization")) slot = &r->authorization;
    else if (!strcasecmp(f, "content-type")) slot = &r->content_type;
    else if (!strcasecmp(f, "upgrade")) slot = &r->upgrade;
    else if (!strcasecmp(f, "connection")) slot = &r->connection;
    else if (!strcasecmp(f, "sec-websocket-key")) slot = &r->ws_key;
    else if (!strcasecmp(f, "sec-websocket-version")) slot = &r->ws_version;
    /* every header is kept for the test endpoints and the resumable
     * upload protocol (X-Goog-Upload-*, Host: files.c) */
    if (r->url && (strstr(r->url, "/glmock/") || strstr(r->url, "/upload/"))) {
        if (!r->headers) r->headers = json_object();
        char *lower = xstrdup(f);
        for (char *q = lower; *q; q++) if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
        const char *v = buf_cstr(&c->hval);
        if (utf8_valid(lower, strlen(lower)) && utf8_valid(v, strlen(v)))
            json_object_set_new(r->headers, lower, json_string(v));
        free(lower);
    }
    if (!strcasecmp(f, "expect") && !strcasecmp(buf_cstr(&c->hval), "100-continue")) r->expect_continue = true;
    if (slot) {
        free(*slot);
        *slot = xstrdup(buf_cstr(&c->hval));
    }
    c->hfield.len = 0;
    c->hval.len = 0;
}

static int on_message_begin(http_parser *p)
{
    conn_t *c = p->data;
    req_free(c->cur);
    c->cur = xcalloc(1, sizeof(req_t));
    c->hfield.len = c->hval.len = 0;
    c->in_value = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;
    buf_t b = {0};
    if (c->cur->url) buf_adds(&b, c->cur->url);
    buf_add(&b, at, n);
    free(c->cur->url);
    c->cur->url = xstrdup(buf_cstr(&b));
    buf_free(&b);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;
    if (c->in_value) { commit_header(c); c->in_value = false; }
    buf_add(&c->hfield, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;
    c->in_value = true;
    buf_add(&c->hval, at, n);
    return 0;
}

/* Path: percent-decoded, repeated '/' collapsed (the SDKs send "//v1beta", "//ws"). */
static void split_url(req_t *r)
{
    const char *u = r->url ? r->url : "/";
    const char *q = strchr(u, '?');
    size_t plen = q ? (size_t)(q - u) : strlen(u);
    char *dec = xmalloc(plen + 1);
    size_t o = 0;
    for (size_t i = 0; i < plen; i++) {
        char ch = u[i];
        if (ch == '%' && i + 2 < plen) {
            char hex[3] = {u[i + 1], u[i + 2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == 0 && v > 0) { ch = (char)v; i += 2; }
        }
        if (ch == '/' && o > 0 && dec[o - 1] == '/') continue;
        dec[o++] = ch;
    }
    dec[o] = 0;
    if (!utf8_valid(dec, o)) {
        /* Keep it printable in JSON bodies: fall back to the raw path. */
        o = 0;
        for (size_t i = 0; i < plen; i++) {
            if (u[i] == '/' && o > 0 && dec[o - 1] == '/') continue;
            dec[o++] = (u[i] & 0x80) ? '?' : u[i];
        }
        dec[o] = 0;
    }
    r->path = dec;
    r->query = xstrdup(q ? q + 1 : "");
}

static int on_headers_complete(http_parser *p)
{
    conn_t *c = p->data;
    commit_header(c);
    split_url(c->cur);
    c->cur->method = p->method;
    /* libcurl waits up to a second for this before sending a large body. */
    if (p->content_length != ULLONG_MAX && p->content_length > GLMOCK_MAX_BODY) {
        c->cur->too_large = true;
        return -1;      /* 1 and 2 mean "skip body" to http-parser */
    }
    if (c->cur->expect_continue) conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn_t *c = p->data;
    if (c->cur->body.len + n > GLMOCK_MAX_BODY) {
        c->cur->too_large = true;
        return 1;
    }
    buf_add(&c->cur->body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    req_t *r = c->cur;
    c->cur = NULL;
    r->keep_alive = http_should_keep_alive(p);
    r->is_upgrade = p->upgrade;
    if (c->rq_tail) c->rq_tail->next = r; else c->rq_head = r;
    c->rq_tail = r;
    c->rq_len++;
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    b->base = xmalloc(65536);
    b->len = 65536;
}

static void fail_request(conn_t *c, int status, const char *msg)
{
    json_t *e = rpc_error(status, "INVALID_ARGUMENT", msg);
    char *body = json_pretty(e);
    json_decref(e);
    buf_t b = {0};
    buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status, http_reason(status), strlen(body), body);
    free(body);
    conn_write_owned(c, b.p, b.len);
    conn_shutdown(c);
}

static void handle_http_bytes(conn_t *c, const char *data, size_t n)
{
    size_t done = http_parser_execute(&c->parser, &g_settings, data, n);
    if (c->parser.upgrade) {
        /* The rest of the bytes belong to the upgraded protocol. Serve the
         * queued requests in order; the last one is the upgrade request. */
        while (c->rq_head && c->rq_head->next) {
            req_t *r = c->rq_head;
            c->rq_head = r->next;
            c->rq_len--;
            /* Pipelined requests before an upgrade: answer synchronously. */
            c->sync_only = true;
            dispatch(c, r);
            c->sync_only = false;
            c->busy = false;
            req_free(r);
        }
        req_t *r = c->rq_head;
        c->rq_head = c->rq_tail = NULL;
        c->rq_len = 0;
        if (!r) { conn_close(c); return; }
        char ver[16];
        if (r->method == HTTP_GET && ws_path_version(r->path, ver, sizeof ver) && !c->closing) {
            ws_accept(c, r, ver, data + done, n - done);
        } else {
            r->keep_alive = false;
            c->sync_only = true;
            dispatch(c, r);   /* 404 (or a REST answer) with Connection: close */
            c->sync_only = false;
            c->busy = true;
        }
        req_free(r);
        return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        if (c->cur && c->cur->too_large)
            fail_request(c, 413, "Request payload size exceeds the limit: 67108864 bytes.");
        else
            fail_request(c, 400, "Invalid HTTP request.");
        return;
    }
    serve_queued(c);
    if (c->rq_len >= GLMOCK_MAX_QUEUED && c->reading && !c->closing) {
        /* A client pipelining far ahead: stop reading until the queue drains. */
        c->reading = false;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    conn_t *c = s->data;
    if (nread > 0 && !c->closing && !c->shutting) {
        if (c->mode == 1) ws_on_data(c, b->base, (size_t)nread);
        else if (!c->eof) handle_http_bytes(c, b->base, (size_t)nread);
    } else if (nread < 0) {
        if (nread != UV_EOF) LOG("conn %llu: read: %s", (unsigned long long)c->id, uv_strerror((int)nread));
        c->eof = true;
        c->reading = false;
        uv_read_stop(s);
        if (c->mode == 1 || c->busy || nread != UV_EOF) {
            /* Client went away (mid-stream, hanging request, or WebSocket without close). */
            conn_close(c);
        } else {
            http_parser_execute(&c->parser, &g_settings, NULL, 0);
            serve_queued(c);
        }
    }
    free(b->base);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) return;
    conn_t *c = xcalloc(1, sizeof *c);
    c->id = g_next_id++;
    uv_tcp_init(g_loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        c->open_handles = 1;
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        return;
    }
    uv_timer_init(g_loop, &c->tick);
    uv_timer_init(g_loop, &c->deadline);
    c->tick.data = c->deadline.data = c;
    c->open_handles = 3;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->started_ms = uv_now(g_loop);
    c->next = g_conns;
    if (g_conns) g_conns->prev = c;
    g_conns = c;
    LOG("conn %llu: accepted", (unsigned long long)c->id);
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

int server_start(const char *host, int port, int *bound_port)
{
    g_settings.on_message_begin = on_message_begin;
    g_settings.on_url = on_url;
    g_settings.on_header_field = on_header_field;
    g_settings.on_header_value = on_header_value;
    g_settings.on_headers_complete = on_headers_complete;
    g_settings.on_body = on_body;
    g_settings.on_message_complete = on_message_complete;

    struct sockaddr_storage ss;
    int rc;
    if (strchr(host, ':')) rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc < 0) return rc;
    uv_tcp_init(g_loop, &g_listener);
    if ((rc = uv_tcp_bind(&g_listener, (struct sockaddr *)&ss, 0)) < 0) return rc;
    if ((rc = uv_listen((uv_stream_t *)&g_listener, 4096, on_connection)) < 0) return rc;
    g_listening = true;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&g_listener, (struct sockaddr *)&bound, &len);
    if (bound.ss_family == AF_INET6) *bound_port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    else *bound_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

void server_stop(void)
{
    if (g_listening) {
        g_listening = false;
        uv_close((uv_handle_t *)&g_listener, NULL);
    } else if (!uv_is_closing((uv_handle_t *)&g_listener) && g_listener.loop) {
        uv_close((uv_handle_t *)&g_listener, NULL);
    }
    /* Tell Live clients why the socket goes away (best effort, no waiting). */
    for (conn_t *c = g_conns; c; c = c->next) {
        if (c->mode != 1 || c->ws_close_sent || c->closing) continue;
        static const char pl[] = "\x03\xe9Server shutting down.";
        size_t fl;
        char *f = ws_frame(8, true, pl, sizeof pl - 1, &fl);
        uv_buf_t b = uv_buf_init(f, (unsigned)fl);
        uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        free(f);
    }
    while (g_conns) conn_close(g_conns);
}
