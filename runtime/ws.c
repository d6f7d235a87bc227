/*
 * ws.c — WebSocket client (libwebsockets 4.1 on the scheduler's libuv loop),
 * Lua module "glrun.ws".
 *
 *   local ws = require "glrun.ws"
 *   local c, err = ws.connect{url=..., headers={...}, timeout=30}
 *   c:send(data [, "binary"|"text"]); local msg, kind = c:recv(5)
 *
 * Shape (OpenResty cosockets): every lws callback only moves bytes between
 * the socket and C queues and calls gl_wake(); Lua runs later, from the
 * scheduler. A connection is two objects: the Lua userdata (a pointer) and
 * the C state (ws_conn), which outlives the userdata until lws has destroyed
 * its wsi, so a late callback never touches freed memory.
 */
#include "gl.h"
#include "ws_url.h"

#include <libwebsockets.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <arpa/inet.h>

#define WS_CONN_MT   "glrun.ws.conn"
#define WS_FRAG      (64 * 1024)      /* outgoing frame size */
#define WS_TRACE_MAX 4096             /* payload bytes kept in a trace line */

enum { ST_CONNECTING, ST_OPEN, ST_FAILED, ST_CLOSED };
enum { PH_DNS, PH_DNS_DONE, PH_LWS };

typedef struct ws_msg {
    struct ws_msg *next;
    int binary;
    size_t len, off;       /* off: bytes already written (outgoing) */
    unsigned char *data;   /* outgoing: data = buf + LWS_PRE */
    unsigned char *buf;
} ws_msg;

typedef struct ws_conn {
    /* lifetime: freed when all four are gone */
    int lua_alive, wsi_alive, timers_open, dns_pending;

    struct lws *wsi;
    int state, phase;
    ws_url u;
    char *url_redacted, *path_redacted;
    char proxy[300];
    char addr[INET6_ADDRSTRLEN];
    char **hdr_names, **hdr_values;
    int nhdr;
    char *protocols;
    int insecure;

    /* sticky error */
    char err_kind[16];
    char *err_msg;
    int err_status, close_code;
    char *close_reason;
    int peer_closed;

    /* incoming */
    ws_msg *in_head, *in_tail;
    size_t in_count, in_bytes, queue_max, queue_bytes_max, in_hiwater;
    gl_buf frag;
    int frag_active, frag_binary, rx_paused;
    size_t max_message;

    /* outgoing */
    ws_msg *out_head, *out_tail;
    size_t out_count, out_bytes, out_bytes_max;
    int close_req, close_req_code, local_code;
    char close_req_reason[124];
    size_t close_req_len;
    int ping_due;

    /* counters */
    unsigned long long msgs_in, msgs_out, bytes_in, bytes_out;

    gl_waiter w_conn, w_recv, w_send;
    uv_timer_t t_recv, t_misc;
    int recv_timed_out;
    double timeout, idle_timeout, ping_interval;
    uint64_t last_rx, last_ping;
    uv_getaddrinfo_t dns;
} ws_conn;

typedef struct { ws_conn *c; } ws_ud;

/* One lws context per process, on the scheduler's loop; one vhost per
 * distinct proxy (lws keeps the proxy in the vhost). */
typedef struct ws_vh { struct ws_vh *next; char proxy[300]; struct lws_vhost *vh; } ws_vh;
static struct {
    struct lws_context *ctx;
    uv_loop_t *loop;
    ws_vh *vhosts;
    int nvh, destroying;
    int nwsi;            /* our wsi not yet destroyed */
} W;

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);
void gl_ws_shutdown(void);

static const struct lws_protocols ws_protocols[] = {
    { "glrun-ws", ws_callback, 0, WS_FRAG, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }   /* 4.1.6 has no LWS_PROTOCOL_LIST_TERM */
};

/* ---- lifetime ---------------------------------------------------------- */

static void msg_free_list(ws_msg *m)
{
    while (m) {
        ws_msg *n = m->next;
        free(m->buf);
        free(m);
        m = n;
    }
}

static void conn_maybe_free(ws_conn *c)
{
    int i;
    if (c->lua_alive || c->wsi_alive || c->timers_open || c->dns_pending)
        return;
    msg_free_list(c->in_head);
    msg_free_list(c->out_head);
    gl_buf_free(&c->frag);
    ws_url_free(&c->u);
    free(c->url_redacted);
    free(c->path_redacted);
    for (i = 0; i < c->nhdr; i++) { free(c->hdr_names[i]); free(c->hdr_values[i]); }
    free(c->hdr_names);
    free(c->hdr_values);
    free(c->protocols);
    free(c->err_msg);
    free(c->close_reason);
    free(c);
}

static void timer_closed(uv_handle_t *h)
{
    ws_conn *c = h->data;
    c->timers_open--;
    conn_maybe_free(c);
}

static void wake_all(ws_conn *c)
{
    gl_wake(&c->w_conn);
    gl_wake(&c->w_recv);
    gl_wake(&c->w_send);
}

/* Record the first failure; later ones are consequences of it. */
static void conn_fail(ws_conn *c, const char *kind, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (c->state == ST_FAILED || c->state == ST_CLOSED)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->state = ST_FAILED;
    snprintf(c->err_kind, sizeof c->err_kind, "%s", kind);
    free(c->err_msg);
    c->err_msg = strdup(buf);
    gl_log(GL_LOG_DEBUG, "ws", "%s: %s", c->url_redacted, buf);
    if (gl_trace_on()) {
        gl_buf b = {0};
        gl_buf_adds(&b, "\"url\":");
        gl_buf_json_str(&b, c->url_redacted, strlen(c->url_redacted));
        gl_buf_adds(&b, ",\"error_kind\":");
        gl_buf_json_str(&b, kind, strlen(kind));
        gl_buf_adds(&b, ",\"message\":");
        gl_buf_json_str(&b, buf, strlen(buf));
        gl_trace_record("ws_error", b.p);
        gl_buf_free(&b);
    }
    uv_timer_stop(&c->t_misc);
    wake_all(c);
}

/* Ask lws to drop the wsi from outside its callbacks. */
static void conn_kill_wsi(ws_conn *c)
{
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* ---- trace ------------------------------------------------------------- */

static void trace_frame(ws_conn *c, const char *kind, int binary,
                        const unsigned char *p, size_t len)
{
    gl_buf b = {0};
    char num[64];
    gl_buf_adds(&b, "\"url\":");
    gl_buf_json_str(&b, c->url_redacted, strlen(c->url_redacted));
    snprintf(num, sizeof num, ",\"opcode\":\"%s\",\"len\":%zu,\"data\":",
             binary ? "binary" : "text", len);
    gl_buf_adds(&b, num);
    gl_buf_json_str(&b, (const char *)p, len > WS_TRACE_MAX ? WS_TRACE_MAX : len);
    if (len > WS_TRACE_MAX)
        gl_buf_adds(&b, ",\"truncated\":true");
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
}

static void trace_event(ws_conn *c, const char *kind, const char *extra)
{
    gl_buf b = {0};
    gl_buf_adds(&b, "\"url\":");
    gl_buf_json_str(&b, c->url_redacted, strlen(c->url_redacted));
    if (extra) gl_buf_adds(&b, extra);
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
}

/* ---- lws side ---------------------------------------------------------- */

/* The proxy as shown in messages: never its credentials. */
static const char *proxy_shown(const ws_conn *c)
{
    const char *at = strrchr(c->proxy, '@');
    return at ? at + 1 : c->proxy;
}

static void classify_connect_error(ws_conn *c, const char *why)
{
    const char *kind = "connect";
    char lower[256];
    size_t i;
    for (i = 0; why[i] && i < sizeof lower - 1; i++)
        lower[i] = (char)tolower((unsigned char)why[i]);
    lower[i] = '\0';
    if (strstr(lower, "ssl") || strstr(lower, "tls") || strstr(lower, "cert"))
        kind = "tls";
    else if (strstr(lower, "getaddrinfo") || strstr(lower, "dns"))
        kind = "dns";
    else if (strstr(lower, "timed out") || strstr(lower, "timeout"))
        kind = "timeout";
    if (!strcmp(why, "closed before established"))
        why = "connection refused or closed before the handshake";
    if (!strcmp(kind, "tls") && !c->insecure) {
        /* lws's OpenSSL text is opaque ("error:00000001:lib(0)::reason(1)") */
        conn_fail(c, kind, "WebSocket connect to %s%s%s failed: TLS handshake failed "
                  "(certificate verification is on; is the server's certificate valid for "
                  "this host and trusted by the system CA store?) [%s]", c->url_redacted,
                  c->proxy[0] ? " via proxy " : "", proxy_shown(c), why);
        return;
    }
    conn_fail(c, kind, "WebSocket connect to %s%s%s failed: %s", c->url_redacted,
              c->proxy[0] ? " via proxy " : "", proxy_shown(c), why);
}

static void rx_message_done(ws_conn *c)
{
    ws_msg *m = calloc(1, sizeof *m);
    if (!m) { conn_fail(c, "protocol", "out of memory"); return; }
    m->binary = c->frag_binary;
    m->len = c->frag.len;
    m->buf = m->data = (unsigned char *)c->frag.p;
    if (!m->buf) { m->buf = m->data = (unsigned char *)strdup(""); }
    c->frag.p = NULL;
    c->frag.len = c->frag.cap = 0;
    c->frag_active = 0;
    if (gl_trace_on())
        trace_frame(c, "ws_recv", m->binary, m->data, m->len);
    if (c->in_tail) c->in_tail->next = m; else c->in_head = m;
    c->in_tail = m;
    c->in_count++;
    c->in_bytes += m->len;
    c->msgs_in++;
    if (c->in_bytes > c->in_hiwater) c->in_hiwater = c->in_bytes;
    if (!c->rx_paused && (c->in_count >= c->queue_max || c->in_bytes >= c->queue_bytes_max)) {
        c->rx_paused = 1;
        lws_rx_flow_control(c->wsi, 0);
    }
    gl_wake(&c->w_recv);
}

static int on_receive(ws_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->state != ST_OPEN)
        return 0;
    c->last_rx = uv_now(W.loop);
    if (!c->frag_active) {
        c->frag_active = 1;
        c->frag_binary = lws_frame_is_binary(wsi);
        c->frag.len = 0;
    }
    if (c->frag.len + len > c->max_message) {
        size_t total = c->frag.len + len + lws_remaining_packet_payload(wsi);
        static const char why[] = "message too big";
        conn_fail(c, "protocol", "message of %zu bytes exceeds max_message (%zu) on %s",
                  total, c->max_message, c->url_redacted);
        gl_buf_free(&c->frag);
        out_discard(c);
        /* Returning -1 from RECEIVE mid-frame crashes lws 4.1.6; close
         * from WRITEABLE instead, and drop the rest of the message. */
        c->close_req = 1;
        c->close_req_code = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
        c->close_req_len = sizeof why - 1;
        memcpy(c->close_req_reason, why, sizeof why - 1);
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (len)
        gl_buf_add(&c->frag, in, len);
    c->bytes_in += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
        rx_message_done(c);
    return 0;
}

static void out_discard(ws_conn *c)
{
    msg_free_list(c->out_head);
    c->out_head = c->out_tail = NULL;
    c->out_count = c->out_bytes = 0;
}

/* One frame per WRITEABLE: a due ping, else the next fragment of the head
 * message; a requested close goes out after the queue is flushed, so a
 * send() followed by close() still delivers the message. */
static int on_writeable(ws_conn *c, struct lws *wsi)
{
    ws_msg *m = c->out_head;

    if (c->ping_due) {
        unsigned char pbuf[LWS_PRE + 8];
        c->ping_due = 0;
        if (lws_write(wsi, pbuf + LWS_PRE, 0, LWS_WRITE_PING) < 0) {
            conn_fail(c, "connect", "write failed on %s", c->url_redacted);
            return -1;
        }
    } else if (m) {
        size_t chunk = m->len - m->off;
        int first = m->off == 0, last, flags;
        if (chunk > WS_FRAG) chunk = WS_FRAG;
        last = m->off + chunk == m->len;
        flags = lws_write_ws_flags(m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, first, last);
        /* lws writes the frame header into the bytes before data+off: the
         * LWS_PRE headroom for the first frame, already-sent payload after */
        if (lws_write(wsi, m->data + m->off, chunk, (enum lws_write_protocol)flags) < 0) {
            conn_fail(c, "connect", "write failed on %s", c->url_redacted);
            return -1;
        }
        m->off += chunk;
        c->out_bytes -= chunk;
        c->bytes_out += chunk;
        if (last) {
            c->out_head = m->next;
            if (!c->out_head) c->out_tail = NULL;
            c->out_count--;
            c->msgs_out++;
            free(m->buf);
            free(m);
        }
        if (c->out_bytes <= c->out_bytes_max)
            gl_wake(&c->w_send);
    } else if (c->close_req) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_req_code,
                         (unsigned char *)c->close_req_reason, c->close_req_len);
        return -1;
    }
    if (c->out_head || c->ping_due || c->close_req)
        lws_callback_on_writable(wsi);
    return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
    ws_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = (unsigned char **)in, *end = (*p) + len;
        int i;
        if (!c) break;
        for (i = 0; i < c->nhdr; i++)
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)c->hdr_names[i],
                    (const unsigned char *)c->hdr_values[i],
                    (int)strlen(c->hdr_values[i]), p, end))
                return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c) break;
        if (c->state != ST_CONNECTING)   /* timed out meanwhile */
            return -1;
        c->state = ST_OPEN;
        c->last_rx = uv_now(W.loop);
        if (gl_trace_on()) trace_event(c, "ws_handshake", ",\"status\":101");
        gl_wake(&c->w_conn);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[256];
        unsigned int status;
        if (!c) break;
        snprintf(why, sizeof why, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
        if (!why[0]) snprintf(why, sizeof why, "connection error");
        status = lws_http_client_http_response(wsi);
        if (c->state == ST_CONNECTING && status && status != 101) {
            char extra[64];
            c->err_status = (int)status;
            conn_fail(c, "ws_handshake", "WebSocket handshake to %s failed: HTTP %u%s%s",
                      c->url_redacted, status, c->proxy[0] ? " (via proxy " : "",
                      proxy_shown(c));
            if (c->proxy[0] && c->err_msg) {
                size_t n = strlen(c->err_msg);
                char *m = realloc(c->err_msg, n + 2);
                if (m) { m[n] = ')'; m[n + 1] = '\0'; c->err_msg = m; }
            }
            snprintf(extra, sizeof extra, ",\"status\":%u", status);
            if (gl_trace_on()) trace_event(c, "ws_handshake", extra);
        } else {
            classify_connect_error(c, why);
            if (gl_trace_on()) trace_event(c, "ws_handshake", ",\"status\":0");
        }
        c->wsi = NULL;
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c) break;
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (c) c->last_rx = uv_now(W.loop);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c)
            return 0;
        if (c->state == ST_OPEN || c->close_req)
            return on_writeable(c, wsi);
        return c->state == ST_CLOSED ? -1 : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *p = in;
        if (!c) break;
        c->peer_closed = 1;
        c->close_code = len >= 2 ? (p[0] << 8 | p[1]) : 1005;
        free(c->close_reason);
        c->close_reason = malloc(len >= 2 ? len - 1 : 1);
        if (c->close_reason) {
            if (len > 2) memcpy(c->close_reason, p + 2, len - 2);
            c->close_reason[len > 2 ? len - 2 : 0] = '\0';
        }
        if (gl_trace_on()) {
            gl_buf b = {0};
            char num[48];
            snprintf(num, sizeof num, ",\"close_code\":%d,\"reason\":", c->close_code);
            gl_buf_adds(&b, num);
            gl_buf_json_str(&b, c->close_reason ? c->close_reason : "",
                            c->close_reason ? strlen(c->close_reason) : 0);
            trace_event(c, "ws_close", b.p);
            gl_buf_free(&b);
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c) break;
        c->wsi = NULL;
        if (c->peer_closed)
            conn_fail(c, "ws_closed", "WebSocket %s closed by the server: %d%s%s",
                      c->url_redacted, c->close_code,
                      c->close_reason && *c->close_reason ? " " : "",
                      c->close_reason ? c->close_reason : "");
        else {
            c->close_code = 1006;
            conn_fail(c, "ws_closed", "WebSocket %s dropped without a close frame (1006)",
                      c->url_redacted);
        }
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        if (!c) break;
        lws_set_wsi_user(wsi, NULL);
        c->wsi = NULL;
        if (c->state == ST_CONNECTING)
            conn_fail(c, "connect", "WebSocket connect to %s failed", c->url_redacted);
        else if (c->state == ST_OPEN) {
            c->close_code = 1006;
            conn_fail(c, "ws_closed", "WebSocket %s dropped without a close frame (1006)",
                      c->url_redacted);
        }
        c->wsi_alive = 0;
        W.nwsi--;
        wake_all(c);
        conn_maybe_free(c);
        break;
    default:
        break;
    }
    return 0;
}

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    gl_log(level == LLL_ERR ? GL_LOG_DEBUG : GL_LOG_TRACE, "lws", "%.*s", (int)n, line);
}

static struct lws_context *ws_context(lua_State *L, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1];

    if (W.ctx) return W.ctx;
    W.loop = gl_loop(L);
    lws_set_log_level(LLL_ERR | (gl_log_enabled(GL_LOG_TRACE) ? LLL_WARN | LLL_NOTICE : 0),
                      lws_log_emit);
    memset(&info, 0, sizeof info);
    loops[0] = W.loop;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    info.pt_serv_buf_size = WS_FRAG;
    info.timeout_secs = 3600;           /* our own timers decide */
    info.connect_timeout_secs = 3600;
    W.ctx = lws_create_context(&info);
    if (W.ctx) {
        static int registered;
        if (!registered++) atexit(gl_ws_shutdown);
    }
    if (!W.ctx) {
        snprintf(err, errlen, "cannot create the libwebsockets context "
                 "(is the libuv event plugin, package libwebsockets-evlib-uv, installed?)");
        return NULL;
    }
    return W.ctx;
}

static struct lws_vhost *ws_vhost(const char *proxy, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    ws_vh *v;
    char name[32], *saved = NULL;
    const char *envp;

    for (v = W.vhosts; v; v = v->next)
        if (!strcmp(v->proxy, proxy)) return v->vh;
    v = calloc(1, sizeof *v);
    if (!v) { snprintf(err, errlen, "out of memory"); return NULL; }
    snprintf(v->proxy, sizeof v->proxy, "%s", proxy);
    snprintf(name, sizeof name, "glrun-ws-%d", W.nvh++);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.vhost_name = name;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.timeout_secs = 3600;
    info.connect_timeout_secs = 3600;
    if (*proxy) {
        info.http_proxy_address = v->proxy;
    } else if ((envp = getenv("http_proxy")) != NULL) {
        /* lws would apply $http_proxy to every vhost without one; proxy
         * choice (NO_PROXY, per-scheme variables) is ours */
        saved = strdup(envp);
        unsetenv("http_proxy");
    }
    v->vh = lws_create_vhost(W.ctx, &info);
    if (saved) { setenv("http_proxy", saved, 1); free(saved); }
    if (!v->vh) {
        snprintf(err, errlen, "cannot create a libwebsockets vhost%s%s",
                 *proxy ? " for proxy " : "", proxy);
        free(v);
        return NULL;
    }
    v->next = W.vhosts;
    W.vhosts = v;
    return v->vh;
}

/* lws on a foreign loop is destroyed in two steps: the first call closes
 * its handles, the loop then runs their close callbacks, and a second call
 * frees the context. The runtime's main runs the loop after lua_close; the
 * second step runs at exit (or from gl_ws_shutdown if main calls it). */
void gl_ws_shutdown(void)
{
    if (W.ctx) {
        lws_context_destroy(W.ctx);
        W.ctx = NULL;
    }
}

/* The registry sentinel: starts the lws teardown when the Lua state
 * closes, after every connection's own __gc (created first, finalised last). */
static int ws_lib_gc(lua_State *L)
{
    (void)L;
    if (W.ctx && !W.destroying) {
        int budget = 200;
        W.destroying = 1;
        lws_context_destroy(W.ctx);
        /* lws closes its sockets' uv handles asynchronously: let those
         * close callbacks run now, before the runtime closes whatever is
         * left on the loop (which must not include lws's own handles). */
        while (budget-- > 0 && (W.nwsi > 0 || budget > 190))
            uv_run(W.loop, UV_RUN_NOWAIT);
    }
    while (W.vhosts) {
        ws_vh *n = W.vhosts->next;
        free(W.vhosts);
        W.vhosts = n;
    }
    return 0;
}

/* ---- timers ------------------------------------------------------------ */

static void recv_timer_cb(uv_timer_t *t)
{
    ws_conn *c = t->data;
    c->recv_timed_out = 1;
    gl_wake(&c->w_recv);
}

static void misc_timer_cb(uv_timer_t *t)
{
    ws_conn *c = t->data;
    uint64_t now = uv_now(W.loop);

    if (c->state == ST_CONNECTING) {
        conn_fail(c, "timeout", "WebSocket connect to %s timed out after %g s",
                  c->url_redacted, c->timeout);
        conn_kill_wsi(c);
        return;
    }
    if (c->state != ST_OPEN)
        return;
    if (c->idle_timeout > 0 && now - c->last_rx >= (uint64_t)(c->idle_timeout * 1000)) {
        conn_fail(c, "timeout", "WebSocket %s idle for %g s (idle_timeout)",
                  c->url_redacted, c->idle_timeout);
        conn_kill_wsi(c);
        return;
    }
    if (c->ping_interval > 0 && c->wsi &&
        now - c->last_ping >= (uint64_t)(c->ping_interval * 1000)) {
        c->last_ping = now;
        c->ping_due = 1;
        lws_callback_on_writable(c->wsi);
    }
}

static void start_misc_tick(ws_conn *c)
{
    double p = 0;
    if (c->idle_timeout > 0) p = c->idle_timeout / 4;
    if (c->ping_interval > 0 && (p == 0 || c->ping_interval / 2 < p)) p = c->ping_interval / 2;
    if (p > 0) {
        uint64_t ms = (uint64_t)(p * 1000);
        if (ms < 10) ms = 10;
        c->last_ping = uv_now(W.loop);
        uv_timer_start(&c->t_misc, misc_timer_cb, ms, ms);
    }
}

/* ---- Lua side ---------------------------------------------------------- */

static ws_conn *check_conn(lua_State *L, int open_required)
{
    ws_ud *ud = luaL_checkudata(L, 1, WS_CONN_MT);
    if (!ud->c || (open_required && ud->c->state == ST_CLOSED))
        luaL_error(L, "attempt to use a closed ws.conn");
    return ud->c;
}

/* Push nil + a fresh copy of the sticky error. */
static int push_error(lua_State *L, ws_conn *c)
{
    int e;
    lua_pushnil(L);
    e = gl_error_new(L, c->err_kind[0] ? c->err_kind : "connect", "%s",
                     c->err_msg ? c->err_msg : "WebSocket failed");
    lua_pushstring(L, c->url_redacted);
    lua_setfield(L, e, "url");
    if (c->err_status) {
        lua_pushinteger(L, c->err_status);
        lua_setfield(L, e, "status");
        lua_pushstring(L, c->path_redacted);
        lua_setfield(L, e, "path");
    }
    if (!strcmp(c->err_kind, "ws_closed")) {
        lua_pushinteger(L, c->close_code);
        lua_setfield(L, e, "close_code");
        lua_pushstring(L, c->close_reason ? c->close_reason : "");
        lua_setfield(L, e, "reason");
    }
    return 2;
}

/* Close the Lua side: stop timers, wake waiters, ask lws to close. */
static void conn_close(ws_conn *c, int code, const char *reason, size_t rlen)
{
    if (c->state == ST_CLOSED)
        return;
    if (c->wsi && c->state == ST_OPEN) {
        c->close_req = 1;
        c->close_req_code = code;
        c->close_req_len = rlen > 123 ? 123 : rlen;
        memcpy(c->close_req_reason, reason, c->close_req_len);
        lws_callback_on_writable(c->wsi);
        /* the flush and the close handshake get a bounded time */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 10);
    } else {
        conn_kill_wsi(c);
    }
    c->state = ST_CLOSED;
    c->local_code = code;
    if (c->timers_open == 2) {
        uv_close((uv_handle_t *)&c->t_recv, timer_closed);
        uv_close((uv_handle_t *)&c->t_misc, timer_closed);
    }
    gl_waiter_cancel(&c->w_conn);
    gl_waiter_cancel(&c->w_recv);
    gl_waiter_cancel(&c->w_send);
    if (c->dns_pending) uv_cancel((uv_req_t *)&c->dns);
}

static void dns_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ws_conn *c = req->data;
    struct addrinfo *a, *pick = NULL;
    c->dns_pending = 0;
    if (c->state == ST_CONNECTING) {
        if (status < 0) {
            conn_fail(c, "dns", "WebSocket connect to %s failed: cannot resolve %s (%s)",
                      c->url_redacted, c->u.host, uv_strerror(status));
        } else {
            for (a = res; a; a = a->ai_next)     /* prefer IPv4 like most servers listen */
                if (a->ai_family == AF_INET) { pick = a; break; }
            if (!pick) pick = res;
            if (pick && pick->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)pick->ai_addr)->sin_addr, c->addr, sizeof c->addr);
            else if (pick)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, c->addr, sizeof c->addr);
            c->phase = PH_DNS_DONE;
            gl_wake(&c->w_conn);
        }
    }
    if (res) uv_freeaddrinfo(res);
    conn_maybe_free(c);
}

static void start_lws(ws_conn *c, struct lws_vhost *vh)
{
    struct lws_client_connect_info i;
    struct lws *w;

    memset(&i, 0, sizeof i);
    i.context = W.ctx;
    i.vhost = vh;
    i.address = c->proxy[0] || !c->addr[0] ? c->u.host : c->addr;
    i.port = c->u.port;
    i.path = c->u.path;
    i.host = c->u.hostport;
    i.protocol = c->protocols;
    i.local_protocol_name = ws_protocols[0].name;
    i.userdata = c;
    i.alpn = "http/1.1";
    if (c->u.tls) {
        i.ssl_connection = LCCSCF_USE_SSL;
        if (c->insecure)
            i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    }
    i.pwsi = &c->wsi;
    c->phase = PH_LWS;
    c->wsi_alive = 1;
    W.nwsi++;
    w = lws_client_connect_via_info(&i);
    if (!w && c->wsi_alive) {
        /* lws already destroyed whatever it had made */
        c->wsi_alive = 0;
        W.nwsi--;
        c->wsi = NULL;
        conn_fail(c, "connect", "WebSocket connect to %s failed to start", c->url_redacted);
    }
}

static int connect_k(lua_State *L, int status, lua_KContext ctx)
{
    ws_conn *c = (ws_conn *)ctx;
    (void)status;
    for (;;) {
        if (c->state == ST_OPEN) {
            uv_timer_stop(&c->t_misc);
            start_misc_tick(c);
            lua_pushvalue(L, 2);
            return 1;
        }
        if (c->state != ST_CONNECTING) {
            int n = push_error(L, c);
            conn_close(c, 1000, "", 0);
            return n;
        }
        if (c->phase == PH_DNS_DONE) {
            char err[256];
            struct lws_vhost *vh = ws_vhost(c->proxy, err, sizeof err);
            if (!vh) { conn_fail(c, "connect", "%s", err); continue; }
            start_lws(c, vh);
            continue;
        }
        return gl_yield(L, &c->w_conn, ctx, connect_k);
    }
}

static double opt_number(lua_State *L, int t, const char *k, double def)
{
    double v;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return def; }
    if (!lua_isnumber(L, -1)) luaL_error(L, "ws.connect: '%s' must be a number", k);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (v < 0) luaL_error(L, "ws.connect: '%s' must not be negative", k);
    return v;
}

static void read_headers(lua_State *L, ws_conn *c)
{
    int n = 0;
    lua_getfield(L, 1, "headers");
    if (lua_isnil(L, -1)) { lua_pop(L, 1); return; }
    luaL_argcheck(L, lua_istable(L, -1), 1, "'headers' must be a table");
    lua_pushnil(L);
    while (lua_next(L, -2)) { n++; lua_pop(L, 1); }
    c->hdr_names = calloc((size_t)n + 1, sizeof(char *));
    c->hdr_values = calloc((size_t)n + 1, sizeof(char *));
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t kl, vl;
        const char *k, *v;
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
            luaL_error(L, "ws.connect: headers must map names to strings");
        k = lua_tolstring(L, -2, &kl);
        v = lua_tolstring(L, -1, &vl);
        if (strpbrk(k, "\r\n:") || memchr(v, '\r', vl) || memchr(v, '\n', vl))
            luaL_error(L, "ws.connect: bad header '%s'", k);
        c->hdr_names[c->nhdr] = malloc(kl + 2);
        memcpy(c->hdr_names[c->nhdr], k, kl);
        memcpy(c->hdr_names[c->nhdr] + kl, ":", 2);      /* lws wants "name:" */
        c->hdr_values[c->nhdr] = strdup(v);
        /* keys/tokens in headers must never reach a log */
        if (!strcasecmp(k, "x-goog-api-key") || !strcasecmp(k, "authorization"))
            gl_secret_add(v, vl);
        c->nhdr++;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_protocols(lua_State *L, ws_conn *c)
{
    lua_getfield(L, 1, "protocols");
    if (lua_type(L, -1) == LUA_TSTRING) {
        c->protocols = strdup(lua_tostring(L, -1));
    } else if (lua_istable(L, -1)) {
        gl_buf b = {0};
        lua_Integer i, n = luaL_len(L, -1);
        for (i = 1; i <= n; i++) {
            size_t l;
            const char *s;
            lua_geti(L, -1, i);
            s = lua_tolstring(L, -1, &l);
            if (!s) luaL_error(L, "ws.connect: 'protocols' must hold strings");
            if (i > 1) gl_buf_add(&b, ",", 1);
            gl_buf_add(&b, s, l);
            lua_pop(L, 1);
        }
        c->protocols = b.p;   /* NULL for an empty list */
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "ws.connect: 'protocols' must be a string or a list");
    }
    lua_pop(L, 1);
}

static int ws_connect(lua_State *L)
{
    ws_ud *ud;
    ws_conn *c;
    const char *url, *proxy_opt = NULL;
    char err[512];
    size_t n;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, 1, "url");
    url = lua_tostring(L, -1);
    if (!url) return luaL_error(L, "ws.connect: 'url' (string) is required");
    lua_pop(L, 1);
    if (!gl_in_task(L))
        return luaL_error(L, "ws.connect must be called from a task");

    ud = lua_newuserdatauv(L, sizeof *ud, 0);   /* index 2, born closed */
    ud->c = NULL;
    luaL_setmetatable(L, WS_CONN_MT);

    c = calloc(1, sizeof *c);
    if (!c) return luaL_error(L, "out of memory");
    if (ws_url_parse(url, &c->u, err, sizeof err)) {
        free(c);
        return luaL_error(L, "ws.connect: %s", err);
    }
    ud->c = c;
    c->lua_alive = 1;
    c->state = ST_CONNECTING;
    c->url_redacted = gl_redact(url, strlen(url), &n);
    c->path_redacted = gl_redact(c->u.path, strlen(c->u.path), &n);
    c->timeout = opt_number(L, 1, "timeout", 30);
    c->idle_timeout = opt_number(L, 1, "idle_timeout", 0);
    c->ping_interval = opt_number(L, 1, "ping", 0);
    c->max_message = (size_t)opt_number(L, 1, "max_message", 32.0 * 1024 * 1024);
    c->queue_max = (size_t)opt_number(L, 1, "queue", 64);
    c->queue_bytes_max = (size_t)opt_number(L, 1, "queue_bytes", 64.0 * 1024 * 1024);
    c->out_bytes_max = (size_t)opt_number(L, 1, "send_buffer", 4.0 * 1024 * 1024);
    if (c->queue_max < 1) c->queue_max = 1;
    if (c->max_message < 1) c->max_message = 1;
    lua_getfield(L, 1, "insecure");
    c->insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    read_headers(L, c);
    read_protocols(L, c);
    lua_getfield(L, 1, "proxy");
    if (lua_isstring(L, -1)) proxy_opt = lua_tostring(L, -1);
    else if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) proxy_opt = "";
    else if (!lua_isnil(L, -1)) return luaL_error(L, "ws.connect: 'proxy' must be a string or false");
    if (ws_proxy_select(c->u.tls, c->u.host, proxy_opt, c->proxy, sizeof c->proxy, err, sizeof err))
        return luaL_error(L, "ws.connect: %s", err);
    lua_pop(L, 1);

    uv_timer_init(gl_loop(L), &c->t_recv);
    uv_timer_init(gl_loop(L), &c->t_misc);
    c->t_recv.data = c->t_misc.data = c;
    c->timers_open = 2;

    if (!ws_context(L, err, sizeof err)) {
        conn_fail(c, "connect", "%s", err);
        return connect_k(L, LUA_OK, (lua_KContext)c);
    }
    if (c->timeout > 0)
        uv_timer_start(&c->t_misc, misc_timer_cb, (uint64_t)(c->timeout * 1000), 0);
    if (gl_trace_on()) {
        gl_buf b = {0};
        if (c->proxy[0]) { gl_buf_adds(&b, ",\"proxy\":"); gl_buf_json_str(&b, proxy_shown(c), strlen(proxy_shown(c))); }
        trace_event(c, "ws_connect", b.p);
        gl_buf_free(&b);
    }
    if (c->proxy[0]) {
        c->phase = PH_DNS_DONE;   /* the proxy resolves the host */
    } else {
        struct addrinfo hints;
        struct in6_addr tmp;
        if (inet_pton(AF_INET, c->u.host, &tmp) == 1 || inet_pton(AF_INET6, c->u.host, &tmp) == 1) {
            snprintf(c->addr, sizeof c->addr, "%.*s", (int)sizeof c->addr - 1, c->u.host);
            c->phase = PH_DNS_DONE;
        } else {
            memset(&hints, 0, sizeof hints);
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            c->dns.data = c;
            c->phase = PH_DNS;
            if (uv_getaddrinfo(gl_loop(L), &c->dns, dns_cb, c->u.host, NULL, &hints) == 0)
                c->dns_pending = 1;
            else
                conn_fail(c, "dns", "WebSocket connect to %s failed: cannot resolve %s",
                          c->url_redacted, c->u.host);
        }
    }
    return connect_k(L, LUA_OK, (lua_KContext)c);
}

/* A task parked on a connection that another task closed gets a value. */
static int push_local_close(lua_State *L, ws_conn *c)
{
    int e;
    lua_pushnil(L);
    e = gl_error_new(L, "ws_closed", "WebSocket %s was closed by this client", c->url_redacted);
    lua_pushinteger(L, c->local_code);
    lua_setfield(L, e, "close_code");
    lua_pushliteral(L, "closed by this client");
    lua_setfield(L, e, "reason");
    return 2;
}

static int send_k(lua_State *L, int status, lua_KContext ctx)
{
    ws_conn *c = (ws_conn *)ctx;
    (void)status;
    if (c->state == ST_CLOSED)
        return push_local_close(L, c);
    if (c->state == ST_FAILED)
        return push_error(L, c);
    if (c->out_bytes > c->out_bytes_max && gl_in_task(L))
        return gl_yield(L, &c->w_send, ctx, send_k);
    lua_pushboolean(L, 1);
    return 1;
}

static int ws_send(lua_State *L)
{
    ws_conn *c = check_conn(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    static const char *const kinds[] = { "text", "binary", NULL };
    int binary = luaL_checkoption(L, 3, "text", kinds);
    ws_msg *m;

    if (c->state == ST_FAILED)
        return push_error(L, c);
    if (c->w_send.task)
        return luaL_error(L, "another task is already waiting to send on this ws.conn");
    m = calloc(1, sizeof *m);
    if (m) m->buf = malloc(LWS_PRE + len + 1);
    if (!m || !m->buf) { free(m); return luaL_error(L, "out of memory"); }
    m->data = m->buf + LWS_PRE;
    memcpy(m->data, data, len);
    m->len = len;
    m->binary = binary;
    if (gl_trace_on())
        trace_frame(c, "ws_send", binary, m->data, len);
    if (c->out_tail) c->out_tail->next = m; else c->out_head = m;
    c->out_tail = m;
    c->out_count++;
    c->out_bytes += len;
    if (c->wsi) lws_callback_on_writable(c->wsi);
    return send_k(L, LUA_OK, (lua_KContext)c);
}

static void pop_message(lua_State *L, ws_conn *c)
{
    ws_msg *m = c->in_head;
    c->in_head = m->next;
    if (!c->in_head) c->in_tail = NULL;
    c->in_count--;
    c->in_bytes -= m->len;
    lua_pushlstring(L, (const char *)m->data, m->len);
    lua_pushstring(L, m->binary ? "binary" : "text");
    free(m->buf);
    free(m);
    if (c->rx_paused && c->wsi && c->in_count <= c->queue_max / 2 &&
        c->in_bytes <= c->queue_bytes_max / 2) {
        c->rx_paused = 0;
        lws_rx_flow_control(c->wsi, 1);
    }
}

static int recv_k(lua_State *L, int status, lua_KContext ctx)
{
    ws_conn *c = (ws_conn *)ctx;
    (void)status;
    if (c->state == ST_CLOSED)
        return push_local_close(L, c);
    if (c->in_head) {                       /* data first, even after a failure */
        uv_timer_stop(&c->t_recv);
        pop_message(L, c);
        return 2;
    }
    if (c->state == ST_FAILED) {
        uv_timer_stop(&c->t_recv);
        return push_error(L, c);
    }
    if (c->recv_timed_out) {
        double t = lua_tonumber(L, 2);
        c->recv_timed_out = 0;
        lua_pushnil(L);
        gl_error_new(L, "timeout", "no WebSocket message from %s within %g s", c->url_redacted, t);
        return 2;
    }
    return gl_yield(L, &c->w_recv, ctx, recv_k);
}

static int ws_recv(lua_State *L)
{
    ws_conn *c = check_conn(L, 1);
    double t = luaL_optnumber(L, 2, -1);
    lua_settop(L, 2);
    if (c->in_head) {
        pop_message(L, c);
        return 2;
    }
    if (c->state == ST_FAILED)
        return push_error(L, c);
    if (c->w_recv.task)
        return luaL_error(L, "another task is already receiving on this ws.conn");
    c->recv_timed_out = 0;
    if (t >= 0) {
        if (t == 0) c->recv_timed_out = 1;
        else uv_timer_start(&c->t_recv, recv_timer_cb, (uint64_t)(t * 1000 + 0.5), 0);
    } else {
        uv_timer_stop(&c->t_recv);
    }
    return recv_k(L, LUA_OK, (lua_KContext)c);
}

static int ws_close(lua_State *L)
{
    ws_ud *ud = luaL_checkudata(L, 1, WS_CONN_MT);
    lua_Integer code = luaL_optinteger(L, 2, 1000);
    size_t rlen = 0;
    const char *reason = luaL_optlstring(L, 3, "", &rlen);
    luaL_argcheck(L, code == 1000 || (code >= 3000 && code <= 4999) ||
                     (code >= 1001 && code <= 1014 && code != 1004 && code != 1005 && code != 1006),
                  2, "invalid close code");
    if (ud->c) conn_close(ud->c, (int)code, reason, rlen);
    return 0;
}

static int ws_gc(lua_State *L)
{
    ws_ud *ud = luaL_checkudata(L, 1, WS_CONN_MT);
    ws_conn *c = ud->c;
    if (c) {
        ud->c = NULL;
        conn_close(c, 1001, "", 0);
        c->lua_alive = 0;
        conn_maybe_free(c);
    }
    return 0;
}

static int ws_tostring(lua_State *L)
{
    ws_ud *ud = luaL_checkudata(L, 1, WS_CONN_MT);
    static const char *const names[] = { "connecting", "open", "failed", "closed" };
    if (!ud->c) lua_pushliteral(L, "ws.conn (closed)");
    else lua_pushfstring(L, "ws.conn (%s) %s", names[ud->c->state], ud->c->url_redacted);
    return 1;
}

static int ws_stats(lua_State *L)
{
    ws_conn *c = check_conn(L, 0);
    lua_createtable(L, 0, 12);
#define SETI(name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETI("in_messages", c->in_count);
    SETI("in_bytes", c->in_bytes);
    SETI("in_bytes_max", c->in_hiwater);
    SETI("in_partial_bytes", c->frag.len);
    SETI("out_messages", c->out_count);
    SETI("out_bytes", c->out_bytes);
    SETI("received", c->msgs_in);
    SETI("sent", c->msgs_out);
    SETI("bytes_received", c->bytes_in);
    SETI("bytes_sent", c->bytes_out);
    SETI("queue", c->queue_max);
    SETI("queue_bytes", c->queue_bytes_max);
#undef SETI
    lua_pushboolean(L, c->rx_paused);
    lua_setfield(L, -2, "paused");
    return 1;
}

static int ws_state(lua_State *L)
{
    ws_ud *ud = luaL_checkudata(L, 1, WS_CONN_MT);
    static const char *const names[] = { "connecting", "open", "failed", "closed" };
    lua_pushstring(L, ud->c ? names[ud->c->state] : "closed");
    return 1;
}

static const luaL_Reg ws_funcs[] = {
    { "connect", ws_connect },
    { NULL, NULL }
};

static const luaL_Reg conn_methods[] = {
    { "send", ws_send },
    { "recv", ws_recv },
    { "close", ws_close },
    { "stats", ws_stats },
    { "state", ws_state },
    { NULL, NULL }
};

static const luaL_Reg conn_meta[] = {
    { "__index", NULL },
    { "__gc", ws_gc },
    { "__close", ws_gc },
    { "__tostring", ws_tostring },
    { NULL, NULL }
};

static int ws_lib_key;

int luaopen_glrun_ws(lua_State *L)
{
    /* sentinel first so that it is finalised after every connection */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ws_lib_key) == LUA_TNIL) {
        lua_newuserdatauv(L, 1, 0);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, ws_lib_gc);
        lua_setfield(L, -2, "__gc");
        lua_setmetatable(L, -2);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &ws_lib_key);
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, WS_CONN_MT)) {
        luaL_setfuncs(L, conn_meta, 0);
        luaL_newlib(L, conn_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, ws_funcs);
    lua_pushinteger(L, WS_FRAG);
    lua_setfield(L, -2, "FRAME_SIZE");
    return 1;
}
