/*
 * server_http.c — glrun.server's HTTP/1.1 requests: parsing with
 * http-parser (one request at a time; what comes after it waits in a
 * bounded stash), the limits (max_header: 431, max_body: 413, garbage:
 * 400), 100-continue, the queue of complete requests for accept(), C's own
 * answers, and what happens after an answer (keep-alive or close).
 *
 * A request is handed to Lua (accept) once it is complete: headers and a
 * body of at most max_body bytes, so req:body() never waits.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static http_parser_settings settings;

const char *srv_status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return s < 200 ? "Informational" : s < 300 ? "OK" : s < 400 ? "Redirect"
                  : s < 500 ? "Client Error" : "Server Error";
    }
}


void srv_request_free(srv_conn *c)
{
    int i;
    for (i = 0; i < c->nh; i++) { free(c->hn[i]); free(c->hv[i]); }
    c->nh = 0;
    gl_buf_free(&c->url);
    gl_buf_free(&c->hname);
    gl_buf_free(&c->hval);
    gl_buf_free(&c->body);
    c->hbytes = 0;
    c->last_value = 0;
}

void srv_ready_remove(srv_conn *c)
{
    srv_listener *l = c->l;
    srv_conn **pp = &l->ready_head, *prev = NULL;
    while (*pp && *pp != c) { prev = *pp; pp = &(*pp)->ready_next; }
    if (!*pp) return;
    *pp = c->ready_next;
    if (l->ready_tail == c) l->ready_tail = prev;
    c->ready_next = NULL;
}

void srv_conn_reply(srv_conn *c, int status, const char *body)
{
    char head[256];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     srv_status_text(status), blen);
    if (status >= 400) c->l->rejected++;
    c->rstate = RS_DONE;
    srv_req_ended(c);
    if (c->phase == CP_READY) srv_ready_remove(c);
    c->phase = CP_HANDLER;
    uv_timer_stop(&c->timer);
    gl_log(GL_LOG_DEBUG, "server", "%s: answered %d in C", c->peer, status);
    if (srv_conn_send(c, head, (size_t)n) == 0 && !c->head_req) srv_conn_send(c, body, blen);
    srv_conn_close_after_flush(c);
}

/* ---- requests ---------------------------------------------------------- */

static int on_message_begin(http_parser *p)
{
    srv_conn *c = p->data;
    srv_request_free(c);
    c->reject = c->msg_done = c->is_ws = c->expect_sent = c->head_req = 0;
    c->method[0] = '\0';
    return 0;
}

static int count_header(srv_conn *c, size_t len)
{
    c->hbytes += len;
    if (c->hbytes > c->l->max_header) { c->reject = 431; return -1; }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    srv_conn *c = p->data;
    if (count_header(c, len)) return -1;
    gl_buf_add(&c->url, at, len);
    return 0;
}

static int push_header(srv_conn *c)
{
    if (!c->last_value) return 0;
    if (c->nh == c->hcap) {
        int cap = c->hcap ? c->hcap * 2 : 16;
        char **a = realloc(c->hn, sizeof *a * (size_t)cap), **b;
        if (!a) return -1;
        c->hn = a;
        b = realloc(c->hv, sizeof *b * (size_t)cap);
        if (!b) return -1;
        c->hv = b;
        c->hcap = cap;
    }
    gl_buf_add(&c->hname, "", 1);
    gl_buf_add(&c->hval, "", 1);
    c->hn[c->nh] = c->hname.p;
    c->hv[c->nh] = c->hval.p;
    c->nh++;
    memset(&c->hname, 0, sizeof c->hname);
    memset(&c->hval, 0, sizeof c->hval);
    c->last_value = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    srv_conn *c = p->data;
    if (count_header(c, len + 4)) return -1;
    if (c->last_value && push_header(c)) return -1;
    gl_buf_add(&c->hname, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    srv_conn *c = p->data;
    if (count_header(c, len)) return -1;
    c->last_value = 1;
    gl_buf_add(&c->hval, at, len);
    return 0;
}

static const char *find_header(srv_conn *c, const char *name)
{
    int i;
    for (i = 0; i < c->nh; i++)
        if (!strcasecmp(c->hn[i], name)) return c->hv[i];
    return NULL;
}

static int has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',') v++;
        if (!strncasecmp(v, tok, n) && (v[n] == '\0' || v[n] == ',' || v[n] == ' ' || v[n] == '\t'))
            return 1;
        v = strchr(v, ',');
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    srv_conn *c = p->data;
    const char *v;
    if (c->last_value && push_header(c)) return -1;
    snprintf(c->method, sizeof c->method, "%s", http_method_str((enum http_method)p->method));
    if (p->method == HTTP_CONNECT) { c->reject = 405; return -1; }
    c->head_req = p->method == HTTP_HEAD;
    c->keep_alive = http_should_keep_alive(p);
    if (p->upgrade && p->method == HTTP_GET && has_token(find_header(c, "upgrade"), "websocket") &&
        find_header(c, "sec-websocket-key") && (v = find_header(c, "sec-websocket-version")) &&
        !strcmp(v, "13"))
        c->is_ws = 1;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->l->max_body) {
        c->reject = 413;
        return -1;
    }
    if ((v = find_header(c, "expect")) && !strcasecmp(v, "100-continue") && p->http_minor >= 1 &&
        ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0))) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        srv_conn_send(c, cont, sizeof cont - 1);
        c->expect_sent = 1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    srv_conn *c = p->data;
    if (c->body.len + len > c->l->max_body) { c->reject = 413; return -1; }
    gl_buf_add(&c->body, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    srv_conn *c = p->data;
    c->msg_done = 1;
    http_parser_pause(p, 1);    /* one request at a time */
    return 0;
}

/* A complete request: queue it for accept() (or refuse it when closed). */
static void request_ready(srv_conn *c)
{
    srv_listener *l = c->l;
    uv_timer_stop(&c->timer);
    if (l->closed) {
        srv_conn_reply(c, 503, "the server is shutting down\n");
        return;
    }
    c->phase = CP_READY;
    c->ready_next = NULL;
    if (l->ready_tail) l->ready_tail->ready_next = c; else l->ready_head = c;
    l->ready_tail = c;
    l->requests++;
    gl_wake(&l->w_accept);
}

srv_conn *srv_accept_pop(srv_listener *l)
{
    srv_conn *c = l->ready_head;
    if (!c) return NULL;
    l->ready_head = c->ready_next;
    if (!l->ready_head) l->ready_tail = NULL;
    c->ready_next = NULL;
    c->phase = CP_HANDLER;
    c->rstate = RS_NONE;
    c->req_done = 0;
    l->accepted++;
    return c;
}

static void stash_add(srv_conn *c, const char *p, size_t n)
{
    gl_buf_add(&c->stash, p, n);
    if (c->stash.len >= SRV_STASH_MAX && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void srv_conn_feed(srv_conn *c, char *p, size_t n)
{
    while (n > 0 && !c->closing) {
        size_t used;
        enum http_errno e;
        if (c->linger) return;                /* answered and closing: drop */
        if (c->phase == CP_WS) { srv_ws_feed(c, (unsigned char *)p, n); return; }
        if (c->phase != CP_HEAD) { stash_add(c, p, n); return; }
        c->got_bytes = 1;
        used = http_parser_execute(&c->p, &settings, p, n);
        e = HTTP_PARSER_ERRNO(&c->p);
        if (c->reject) {
            srv_conn_reply(c, c->reject, c->reject == 413 ? "request body too large\n"
                           : c->reject == 431 ? "request header fields too large\n"
                           : "bad request\n");
            return;
        }
        if (e == HPE_PAUSED || (e == HPE_OK && c->p.upgrade && c->msg_done)) {
            if (used > n) used = n;
            p += used;
            n -= used;
            if (c->msg_done) request_ready(c);
            continue;                         /* the rest goes to the stash */
        }
        if (e != HPE_OK) {
            gl_log(GL_LOG_DEBUG, "server", "%s: bad request: %s", c->peer, http_errno_name(e));
            srv_conn_reply(c, 400, "bad request\n");
            return;
        }
        return;                               /* all used; the request goes on */
    }
}

/* The handler finished its answer: the next request on a kept-alive
 * connection, else close once the answer is out. */
void srv_request_done(srv_conn *c)
{
    gl_buf st;
    c->rstate = RS_DONE;
    srv_req_ended(c);
    if (c->closing) return;
    if (c->close_after || !c->keep_alive || c->l->closed || c->gone || !c->msg_done ||
        c->phase == CP_WS || c->p.upgrade) {
        srv_conn_close_after_flush(c);
        return;
    }
    c->gen++;
    c->phase = CP_HEAD;
    c->rstate = RS_NONE;
    c->chunked = 0;
    c->got_bytes = 0;
    c->msg_done = 0;
    /* nothing of this request may shape C's own answer to bytes that never
     * begin a request (400 for garbage, 408): a HEAD (or a 204/304 answer)
     * left head_req set, and that answer went without its body */
    c->head_req = c->expect_sent = c->is_ws = 0;
    srv_request_free(c);
    http_parser_pause(&c->p, 0);
    srv_head_timer_start(c);
    st = c->stash;
    memset(&c->stash, 0, sizeof c->stash);
    if (!c->reading && !c->closing) srv_read_start(c);
    if (st.len) srv_conn_feed(c, st.p, st.len);
    gl_buf_free(&st);
}


void srv_http_init(void)
{
    /* our own max_header decides (431); http-parser's 80 KiB default
     * would answer 400 first for a larger limit */
    http_parser_set_max_header_size(16u << 20);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}
