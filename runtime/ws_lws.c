/*
 * ws_lws.c — the libwebsockets side of the WebSocket client: one lws context
 * on the scheduler's libuv loop, the protocol callback, frame reassembly,
 * the outgoing queue, trace records.
 *
 * Every callback here only moves bytes between the socket and the C queues
 * of a ws_conn and calls gl_wake(); Lua runs later, from the scheduler.
 */
#include "ws_conn.h"
#include "cassette.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The close opcode for lws_write(): lws keeps it private (LWS_WRITE_CLOSE
 * in roles/ws/private-lib-roles-ws.h, 4 from 4.1 to this day). */
#define WS_LWS_WRITE_CLOSE 4

/* One lws context per process, on the scheduler's loop; one vhost per
 * distinct proxy (lws keeps the proxy in the vhost). */
typedef struct ws_vh { struct ws_vh *next; char proxy[300]; int tls; struct lws_vhost *vh; } ws_vh;
static struct {
    struct lws_context *ctx;
    uv_loop_t *loop;
    ws_vh *vhosts;
    int nvh, destroying;
    int nwsi;            /* our wsi not yet destroyed */
    const char *violation; /* a protocol violation lws just logged (see lws_log_emit) */
} W;

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

static const struct lws_protocols ws_protocols[] = {
    { "glrun-ws", ws_callback, 0, WS_FRAG, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }   /* 4.1.6 has no LWS_PROTOCOL_LIST_TERM */
};

/* ---- lifetime ---------------------------------------------------------- */

void ws_msg_free_list(ws_msg *m)
{
    while (m) {
        ws_msg *n = m->next;
        free(m->buf);
        free(m);
        m = n;
    }
}

void ws_conn_maybe_free(ws_conn *c)
{
    int i;
    if (c->lua_alive || c->wsi_alive || c->timers_open || c->dns_pending)
        return;
    ws_msg_free_list(c->in_head);
    ws_msg_free_list(c->out_head);
    ws_reasm_free(&c->frag);
    ws_url_free(&c->u);
    free(c->url_redacted);
    free(c->path_redacted);
    for (i = 0; i < c->nhdr; i++) { free(c->hdr_names[i]); free(c->hdr_values[i]); }
    free(c->hdr_names);
    free(c->hdr_values);
    free(c->protocols);
    free(c->err_msg);
    free(c->close_reason);
    free(c->location);
    gl_tap_free(c->tap);
    ws_play_free(c->play);
    free(c);
}

void ws_wake_all(ws_conn *c)
{
    gl_wake(&c->w_conn);
    gl_wake(&c->w_recv);
    gl_wake(&c->w_send);
}

/* Record the first failure; later ones are consequences of it. */
void ws_conn_fail(ws_conn *c, const char *kind, const char *fmt, ...)
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
    /* the session ends here: the trace and the cassette keep how */
    gl_tap_end(c->tap, 0, buf, kind, c->close_code, c->close_reason, c->err_status);
    gl_log(GL_LOG_DEBUG, "ws", "%s: %s", c->url_redacted, buf);
    uv_timer_stop(&c->t_misc);
    ws_wake_all(c);
}

/* Ask lws to drop the wsi from outside its callbacks. */
void ws_conn_kill(ws_conn *c)
{
    if (c->wsi)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* ---- lws side ---------------------------------------------------------- */

/* The proxy as shown in messages: never its credentials. */
const char *ws_proxy_shown(const ws_conn *c)
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
        ws_conn_fail(c, kind, "WebSocket connect to %s%s%s failed: TLS handshake failed "
                  "(certificate verification is on; is the server's certificate valid for "
                  "this host and trusted by the system CA store?) [%s]", c->url_redacted,
                  c->proxy[0] ? " via proxy " : "", ws_proxy_shown(c), why);
        return;
    }
    ws_conn_fail(c, kind, "WebSocket connect to %s%s%s failed: %s", c->url_redacted,
              c->proxy[0] ? " via proxy " : "", ws_proxy_shown(c), why);
}

static void out_discard(ws_conn *c)
{
    ws_msg_free_list(c->out_head);
    c->out_head = c->out_tail = NULL;
    c->out_count = c->out_bytes = 0;
}

static void rx_message_done(ws_conn *c)
{
    size_t len;
    int binary;
    unsigned char *data = ws_reasm_take(&c->frag, &len, &binary);
    ws_deliver(c, data, len, binary);
}

/* How far past its bounds the queue may grow before the socket is paused
 * at once: what one read of the socket (WS_FRAG bytes) brings. Within that
 * slack the pause waits for ws_flow_check. */
#define WS_RX_SLACK_MSGS 1024

static int queue_over(const ws_conn *c)
{
    return c->in_count >= c->queue_max || c->in_bytes >= c->queue_bytes_max;
}

static void pause_rx(ws_conn *c)
{
    c->rx_paused = 1;
    c->rx_pauses++;
    if (c->wsi) lws_rx_flow_control(c->wsi, 0);
}

static void enqueue(ws_conn *c, ws_msg *m)
{
    gl_tap_data(c->tap, GL_TAP_RECV, m->binary, (const char *)m->data, m->len);
    if (c->in_tail) c->in_tail->next = m; else c->in_head = m;
    c->in_tail = m;
    c->in_count++;
    c->in_bytes += m->len;
    c->msgs_in++;
    if (c->in_bytes > c->in_hiwater) c->in_hiwater = c->in_bytes;
    if (!c->rx_paused && queue_over(c)) {
        /* A reader that keeps up takes the whole read before the loop polls
         * again: pausing here, mid-read, would make lws stash the rest and
         * toggle the socket's poll every queue/2 messages. So the pause
         * waits for ws_flow_check, unless the queue is past its bounds by
         * more than one read brings (or there is no socket: --replay). */
        if (!c->wsi || c->in_count >= c->queue_max + WS_RX_SLACK_MSGS ||
            c->in_bytes >= c->queue_bytes_max + WS_FRAG)
            pause_rx(c);
        else if (!uv_is_active((uv_handle_t *)&c->p_flow))
            uv_prepare_start(&c->p_flow, ws_flow_check);
    }
    gl_wake(&c->w_recv);
}

void ws_flow_check(uv_prepare_t *h)
{
    ws_conn *c = h->data;
    uv_prepare_stop(h);
    if (!c->rx_paused && queue_over(c) && c->state != ST_CLOSED)
        pause_rx(c);
}

void ws_deliver(ws_conn *c, unsigned char *data, size_t len, int binary)
{
    ws_msg *m = calloc(1, sizeof *m);
    if (!m) { free(data); ws_conn_fail(c, "protocol", "out of memory"); return; }
    m->buf = m->data = data;
    m->len = len;
    m->binary = binary;
    enqueue(c, m);
}

void ws_deliver_copy(ws_conn *c, const void *data, size_t len, int binary)
{
    ws_msg *m = malloc(sizeof *m + len + 1);
    if (!m) { ws_conn_fail(c, "protocol", "out of memory"); return; }
    m->next = NULL;
    m->buf = NULL;
    m->data = m->inl;
    if (len) memcpy(m->inl, data, len);
    m->inl[len] = 0;
    m->len = len;
    m->off = 0;
    m->binary = binary;
    enqueue(c, m);
}

static int on_receive(ws_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->state != ST_OPEN)
        return 0;
    c->last_rx = uv_now(c->loop);
    size_t had = c->frag.buf.len;
    int final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    /* a whole message in one piece (the usual case) is checked in place
     * and copied once, into its queue entry */
    int whole = final && !c->frag.active;
    int st = whole ? ws_reasm_check_whole(in, len, lws_frame_is_binary(wsi), c->max_message)
                   : ws_reasm_feed(&c->frag, in, len, lws_frame_is_binary(wsi), final, c->max_message);
    if (st == WS_REASM_TOO_BIG) {
        size_t total = had + len + lws_remaining_packet_payload(wsi);
        static const char why[] = "message too big";
        ws_conn_fail(c, "protocol", "message of %zu bytes exceeds max_message (%zu) on %s",
                  total, c->max_message, c->url_redacted);
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
    if (st == WS_REASM_BAD_UTF8) {
        static const char why[] = "invalid UTF-8";
        c->violation = "a text message that is not valid UTF-8";
        c->close_code = LWS_CLOSE_STATUS_INVALID_PAYLOAD;
        ws_conn_fail(c, "protocol", "WebSocket %s failed: protocol violation by the server: %s (1007)",
                     c->url_redacted, c->violation);
        out_discard(c);
        c->close_req = 1;    /* as above: from WRITEABLE, never from RECEIVE */
        c->close_req_code = LWS_CLOSE_STATUS_INVALID_PAYLOAD;
        c->close_req_len = sizeof why - 1;
        memcpy(c->close_req_reason, why, sizeof why - 1);
        lws_callback_on_writable(wsi);
        return 0;
    }
    c->bytes_in += len;
    if (st == WS_REASM_DONE) {
        if (whole) ws_deliver_copy(c, in, len, lws_frame_is_binary(wsi));
        else rx_message_done(c);
    }
    return 0;
}

/* A 3xx answer to the upgrade: keep its Location (redacted, bounded) for
 * the error. The ah still holds the response headers here. */
static void keep_location(ws_conn *c, struct lws *wsi, const char *loc)
{
    char *tmp = NULL;
    size_t n;
    if (c->location) return;
    if (!loc) {
        int len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_LOCATION);
        if (len <= 0 || !(tmp = malloc((size_t)len + 1))) return;
        if (lws_hdr_copy(wsi, tmp, len + 1, WSI_TOKEN_HTTP_LOCATION) < 0) { free(tmp); return; }
        loc = tmp;
    }
    n = strlen(loc);
    if (n > 512) n = 512;
    c->location = gl_redact(loc, n, &n);
    free(tmp);
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
            ws_conn_fail(c, "connect", "write failed on %s", c->url_redacted);
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
            ws_conn_fail(c, "connect", "write failed on %s", c->url_redacted);
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
        /* Write the close frame ourselves: with lws_close_reason() and -1,
         * Debian's lws 4.1.6 (a _DEBUG build) closes the wsi a second time
         * on libuv ("close_and_handled uv repeat test") and the frame never
         * leaves. Then drop the connection. */
        unsigned char cbuf[LWS_PRE + 2 + sizeof c->close_req_reason];
        unsigned char *p = cbuf + LWS_PRE;
        size_t n = c->close_req_len > 123 ? 123 : c->close_req_len;
        p[0] = (unsigned char)(c->close_req_code >> 8);
        p[1] = (unsigned char)(c->close_req_code & 0xff);
        memcpy(p + 2, c->close_req_reason, n);
        (void)lws_write(wsi, p, 2 + n, (enum lws_write_protocol)WS_LWS_WRITE_CLOSE);
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
        c->hs_sent = 1;
        for (i = 0; i < c->nhdr; i++)
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)c->hdr_names[i],
                    (const unsigned char *)c->hdr_values[i],
                    (int)strlen(c->hdr_values[i]), p, end))
                return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
        /* Never follow a redirect of the upgrade (lws 4.1 would, to any
         * host, and crashes at exit when that host does not resolve): a
         * redirected upgrade is a captive portal or a proxy, reported as a
         * handshake error. Refusing it here ends in CONNECTION_ERROR.
         * (LCCSCF_HTTP_NO_FOLLOW_REDIRECT should keep lws from asking.) */
        if (c) keep_location(c, wsi, in);
        return -1;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        W.violation = NULL;
        if (!c) break;
        if (c->state != ST_CONNECTING)   /* timed out meanwhile */
            return -1;
        c->state = ST_OPEN;
        c->last_rx = uv_now(c->loop);
        gl_tap_response(c->tap, 101, NULL, 0);
        gl_wake(&c->w_conn);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[256];
        unsigned int status;
        if (!c) break;
        snprintf(why, sizeof why, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
        if (!why[0]) snprintf(why, sizeof why, "connection error");
        W.violation = NULL;
        status = lws_http_client_http_response(wsi);
        if (c->state == ST_CONNECTING && status && status != 101) {
            c->err_status = (int)status;
            if (status >= 300 && status < 400)
                keep_location(c, wsi, NULL);
            gl_tap_response(c->tap, (long)status, NULL, 0);
            ws_conn_fail(c, "ws_handshake", "WebSocket handshake to %s failed: HTTP %u%s%s%s%s%s",
                      c->url_redacted, status,
                      c->location ? " redirect to " : "", c->location ? c->location : "",
                      c->location ? " (not followed)" : "",
                      c->proxy[0] ? " (via proxy " : "", ws_proxy_shown(c));
            if (c->proxy[0] && c->err_msg) {
                size_t n = strlen(c->err_msg);
                char *m = realloc(c->err_msg, n + 2);
                if (m) { m[n] = ')'; m[n + 1] = '\0'; c->err_msg = m; }
            }
        } else if (c->state == ST_CONNECTING && c->hs_sent) {
            /* connected and asked for the upgrade, but no complete answer
             * came: the response was cut (or was not HTTP) */
            ws_conn_fail(c, "ws_handshake", "WebSocket handshake to %s%s%s failed: no complete "
                      "HTTP response to the upgrade request (%s)", c->url_redacted,
                      c->proxy[0] ? " via proxy " : "", ws_proxy_shown(c), why);
            gl_tap_note(c->tap, "ws_handshake", ",\"status\":0");
        } else {
            classify_connect_error(c, why);
            gl_tap_note(c->tap, "ws_handshake", ",\"status\":0");
        }
        c->wsi = NULL;
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        W.violation = NULL;
        if (!c) break;
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        W.violation = NULL;
        if (c) c->last_rx = uv_now(c->loop);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        W.violation = NULL;
        if (!c)
            return 0;
        if (c->state == ST_OPEN || c->close_req)
            return on_writeable(c, wsi);
        return c->state == ST_CLOSED ? -1 : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *p = in;
        W.violation = NULL;
        if (!c) break;
        c->peer_closed = 1;
        c->close_code = len >= 2 ? (p[0] << 8 | p[1]) : 1005;
        free(c->close_reason);
        /* the server's words enter here: no secret in err.reason */
        c->close_reason = gl_redact(len > 2 ? (const char *)p + 2 : "", len > 2 ? len - 2 : 0, NULL);
        if (gl_trace_on()) {
            gl_buf b = {0};
            char num[48];
            snprintf(num, sizeof num, ",\"close_code\":%d,\"reason\":", c->close_code);
            gl_buf_adds(&b, num);
            gl_buf_json_str(&b, c->close_reason ? c->close_reason : "",
                            c->close_reason ? strlen(c->close_reason) : 0);
            gl_tap_note(c->tap, "ws_close", b.p);
            gl_buf_free(&b);
        }
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED: {
        const char *violation = W.violation;
        W.violation = NULL;
        if (!c) break;
        c->wsi = NULL;
        if (violation && !c->peer_closed && c->state == ST_OPEN) {
            /* lws failed the connection on a frame that breaks RFC 6455 */
            c->violation = violation;
            c->close_code = LWS_CLOSE_STATUS_PROTOCOL_ERR;
            ws_conn_fail(c, "protocol", "WebSocket %s failed: protocol violation by the server: "
                      "%s (%d)", c->url_redacted, violation, c->close_code);
        } else if (c->peer_closed)
            ws_conn_fail(c, "ws_closed", "WebSocket %s closed by the server: %d%s%s",
                      c->url_redacted, c->close_code,
                      c->close_reason && *c->close_reason ? " " : "",
                      c->close_reason ? c->close_reason : "");
        else {
            c->close_code = 1006;
            ws_conn_fail(c, "ws_closed", "WebSocket %s dropped without a close frame (1006)",
                      c->url_redacted);
        }
        break;
    }
    case LWS_CALLBACK_WSI_DESTROY:
        if (!c) break;
        lws_set_wsi_user(wsi, NULL);
        c->wsi = NULL;
        if (c->state == ST_CONNECTING)
            ws_conn_fail(c, "connect", "WebSocket connect to %s failed", c->url_redacted);
        else if (c->state == ST_OPEN) {
            c->close_code = 1006;
            ws_conn_fail(c, "ws_closed", "WebSocket %s dropped without a close frame (1006)",
                      c->url_redacted);
        }
        c->wsi_alive = 0;
        W.nwsi--;
        ws_wake_all(c);
        ws_conn_maybe_free(c);
        break;
    default:
        break;
    }
    return 0;
}

/* lws 4.1.6 fails a connection on a frame that breaks RFC 6455 (reserved
 * bits or opcodes, a fragmented control frame, ...) by dropping the socket
 * without a close frame, and tells the protocol callback nothing: its log
 * line is the only report. The line is logged just before lws closes that
 * wsi, in the same call, so the next CLIENT_CLOSED is the connection it
 * belongs to; any other callback in between forgets it. Masked server
 * frames are not checked by 4.1.6 (they are by lws >= 4.4). */
static const struct { const char *line, *what; } lws_violations[] = {
    { "illegal rsv bits set", "a frame with reserved bits (RSV1-3) set, no extension negotiated" },
    { "illegal opcode", "a frame with a reserved opcode" },
    { "disordered continuation", "a continuation frame with no message to continue" },
    { "owed us a FIN", "a new message before the fragmented one ended" },
    { "control msg can't be fragmented", "a fragmented control frame" },
    { "Control frame asking for extended length", "a control frame longer than 125 bytes" },
    { "b63 of length must be zero", "a frame length with the top bit set" },
    { "Server must not mask", "a masked frame (a server must not mask)" },
};

static int lws_log_forward = LLL_ERR;   /* what reaches glrun's log */

static void lws_log_emit(int level, const char *line)
{
    size_t n = strlen(line), i;
    if (level & (LLL_INFO | LLL_WARN))
        for (i = 0; i < sizeof lws_violations / sizeof lws_violations[0]; i++)
            if (strstr(line, lws_violations[i].line)) {
                W.violation = lws_violations[i].what;
                break;
            }
    if (!(level & lws_log_forward))
        return;
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    gl_log(level == LLL_ERR ? GL_LOG_DEBUG : GL_LOG_TRACE, "lws", "%.*s", (int)n, line);
}

struct lws_context *ws_lws_context(uv_loop_t *loop, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    void *loops[1];

    if (W.ctx) return W.ctx;
    W.loop = loop;
    lws_log_forward = LLL_ERR | (gl_log_enabled(GL_LOG_TRACE) ? LLL_WARN | LLL_NOTICE : 0);
    /* info and warn lines are read for protocol violations (lws_log_emit) */
    lws_set_log_level(lws_log_forward | LLL_WARN | LLL_INFO, lws_log_emit);
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

/* One vhost per (proxy, TLS or not): only a TLS vhost loads the CA store,
 * which costs tens of milliseconds, so ws:// never pays for it. */
struct lws_vhost *ws_lws_vhost(const char *proxy, int tls, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    ws_vh *v;
    char name[32], *saved = NULL;
    const char *envp;

    for (v = W.vhosts; v; v = v->next)
        if (!strcmp(v->proxy, proxy) && v->tls == tls) return v->vh;
    v = calloc(1, sizeof *v);
    if (!v) { snprintf(err, errlen, "out of memory"); return NULL; }
    snprintf(v->proxy, sizeof v->proxy, "%s", proxy);
    v->tls = tls;
    snprintf(name, sizeof name, "glrun-ws-%d", W.nvh++);
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.vhost_name = name;
    info.options = tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    /* the CA set REST trusts too (ca.c); NULL: OpenSSL's defaults, which
     * honour SSL_CERT_FILE and SSL_CERT_DIR */
    if (tls) info.client_ssl_ca_filepath = gl_ca_file();
    info.timeout_secs = 3600;
    info.connect_timeout_secs = 3600;
    /* no lws keep-alive ("validity") timers: glrun's own ping and idle
     * timers do that job, and lws 4.1 keeps its timers in one sorted list
     * whose inserts grow with every open connection */
    static const lws_retry_bo_t no_validity;
    info.retry_and_idle_policy = &no_validity;
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

void ws_lws_start(ws_conn *c, struct lws_vhost *vh)
{
    struct lws_client_connect_info i;
    struct lws *w;

    memset(&i, 0, sizeof i);
    i.context = W.ctx;
    static const lws_retry_bo_t no_validity;
    i.retry_and_idle_policy = &no_validity;
    i.vhost = vh;
    i.address = c->proxy[0] || !c->addr[0] ? c->u.host : c->addr;
    i.port = c->u.port;
    i.path = c->u.path;
    i.host = c->u.hostport;
    i.protocol = c->protocols;
    i.local_protocol_name = ws_protocols[0].name;
    i.userdata = c;
    i.alpn = "http/1.1";
    i.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;   /* see CLIENT_HTTP_REDIRECT */
    if (c->u.tls) {
        i.ssl_connection |= LCCSCF_USE_SSL;
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
        ws_conn_fail(c, "connect", "WebSocket connect to %s failed to start", c->url_redacted);
    }
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

void ws_lws_teardown(void)
{
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
}
