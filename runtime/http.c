/*
 * http.c — HTTP for Lua tasks: libcurl multi driven by the libuv loop
 * (the shape of curl's docs/examples/multi-uv.c).
 *
 *   http.request{method, url, headers, body, timeout, deadline} -> res | nil, err
 *   http.stream{...}  -> iterator of body chunks        | nil, err
 *   http.sse{...}     -> iterator of events              | nil, err
 *
 * timeout: seconds without a byte from the server (an idle timeout, the
 * same for every mode); deadline: seconds for the whole request, bytes
 * arriving or not. A 3xx is an error (kind "http", field redirect): curl
 * never follows redirects, since an API call that is redirected reached a
 * proxy or a portal, not the API.
 *
 * stream/sse wait for the response headers: an HTTP error status or a
 * connection failure is returned as nil, err; afterwards the iterator
 * raises (a for loop cannot carry an error), having delivered everything
 * that came before the failure. curl callbacks only append bytes (and run
 * the C SSE parser) and call gl_wake(); curl is never called from inside
 * its own callbacks. A consumer that falls behind pauses the transfer
 * (CURL_WRITEFUNC_PAUSE) instead of growing a buffer.
 */
#include "gl.h"
#include "sse.h"
#include "cassette.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REQ_MT "glrun.http.request"
#define HIGH_WATER (1u << 20)            /* bytes queued before pausing */
#define MAX_ERROR_BODY (4u << 20)
#define DEFAULT_MAX_BODY (256u << 20)
#define DEFAULT_MAX_EVENT (64u << 20)

enum { M_FULL, M_STREAM, M_SSE };
enum { S_NEW, S_RUNNING, S_DONE };

typedef struct ev_node {
    struct ev_node *next;
    size_t data_len, event_len, id_len;
    char *event, *id; /* point into mem */
    char mem[];       /* data \0 event \0 id \0 */
} ev_node;

typedef struct http_req {
    CURL *easy;
    struct curl_slist *hdrs;
    int mode, state, in_multi, closed;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    int headers_done, error_body, paused, too_big;
    gl_buf resp_headers;
    gl_buf body;
    size_t body_off;
    size_t max_body;
    sse_parser sse;
    int sse_ready, sse_failed;
    ev_node *evq_head, *evq_tail;
    size_t evq_bytes;
    unsigned long events;  /* delivered to Lua */
    int decode;
    gl_waiter waiter;
    uv_timer_t *timer;     /* idle timeout and deadline while a consumer waits */
    double timeout;        /* idle: seconds without a byte */
    double deadline;       /* seconds for the whole request (0: none) */
    uint64_t t_start, t_rx, t_wait; /* loop ms: start, last byte, wait began */
    curl_off_t ul_seen;    /* bytes sent: upload progress counts as activity */
    int timed_out;         /* 1 idle, 2 deadline */
    char method[16];
    char *url;             /* redacted, for messages */
    gl_rec *rec;           /* --record: this exchange */
    gl_redstream trace_rs; /* --trace: the body, redacted as one stream */
    /* --replay: the recorded exchange served instead of the network */
    struct play_ev { double t; const char *p; size_t len; } *play;
    size_t play_n, play_i;
    uv_timer_t *play_timer;
    uint64_t play_t0;
    double play_resp_t, play_end_t;
    long play_status;
    int play_has_resp, play_result;
    char *play_fail;       /* no recorded exchange matched: why */
    const char *play_headers;
    size_t play_headers_len;
} http_req;

/* ---- the multi handle on the loop ---------------------------------- */

static CURLM *multi;
static uv_timer_t multi_timer;
static uv_loop_t *mloop;

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
} sock_ctx;

static void trace_chunk_end(http_req *r);

static void check_info(void) {
    CURLMsg *msg;
    int pending;
    while ((msg = curl_multi_info_read(multi, &pending))) {
        if (msg->msg != CURLMSG_DONE) continue;
        http_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode res = msg->data.result; /* read before remove_handle frees msg */
        curl_multi_remove_handle(multi, msg->easy_handle);
        if (!r) continue;
        r->in_multi = 0;
        r->result = res;
        r->state = S_DONE;
        gl_rec_end(r->rec, (int)res, res != CURLE_OK ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(res)) : NULL,
                   0, NULL);
        r->rec = NULL;
        trace_chunk_end(r);
        if (gl_trace_on()) {
            char f[256];
            gl_buf b = {0};
            gl_buf_adds(&b, "\"url\":");
            gl_buf_json_str(&b, r->url, strlen(r->url));
            snprintf(f, sizeof f, ",\"status\":%ld,\"curl\":%d", r->status, (int)r->result);
            gl_buf_adds(&b, f);
            gl_trace_record("http_done", b.p);
            gl_buf_free(&b);
        }
        gl_wake(&r->waiter);
    }
}

static void poll_cb(uv_poll_t *p, int status, int events) {
    sock_ctx *c = p->data;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(multi, c->fd, flags, &running);
    check_info();
}

static void free_ctx(uv_handle_t *h) { free(h->data); }

static int socket_cb(CURL *e, curl_socket_t s, int action, void *userp, void *socketp) {
    (void)e; (void)userp;
    sock_ctx *c = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, free_ctx);
            curl_multi_assign(multi, s, NULL);
        }
        return 0;
    }
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return -1;
        c->fd = s;
        if (uv_poll_init_socket(mloop, &c->poll, s) != 0) { free(c); return -1; }
        c->poll.data = c;
        curl_multi_assign(multi, s, c);
    }
    int ev = 0;
    if (action & CURL_POLL_IN) ev |= UV_READABLE;
    if (action & CURL_POLL_OUT) ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, poll_cb);
    return 0;
}

static void on_multi_timeout(uv_timer_t *t) {
    (void)t;
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_info();
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
    (void)m; (void)userp;
    if (timeout_ms < 0) uv_timer_stop(&multi_timer);
    else uv_timer_start(&multi_timer, on_multi_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static void multi_init(lua_State *L) {
    if (multi) return;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mloop = gl_loop(L);
    multi = curl_multi_init();
    uv_timer_init(mloop, &multi_timer);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
}

void gl_http_shutdown(void) {
    if (!multi) return;
    curl_multi_cleanup(multi);
    multi = NULL;
    uv_close((uv_handle_t *)&multi_timer, NULL);
    curl_global_cleanup();
}

/* ---- curl callbacks (no Lua here) ---------------------------------- */

/* The body is redacted as one stream: a key split between two reads is
 * held back until the read that completes it (trace_chunk_end writes
 * what is left). */
static void trace_chunk(http_req *r, const char *p, size_t len) {
    gl_buf b = {0};
    gl_buf_adds(&b, "\"url\":");
    gl_buf_json_str(&b, r->url, strlen(r->url));
    gl_trace_data(&r->trace_rs, "http_chunk", b.p, p, len);
    gl_buf_free(&b);
}

static void trace_chunk_end(http_req *r) {
    if (!r->trace_rs.held.len || !r->url) { gl_redstream_free(&r->trace_rs); return; }
    gl_buf b = {0};
    gl_buf_adds(&b, "\"url\":");
    gl_buf_json_str(&b, r->url, strlen(r->url));
    gl_trace_data_end(&r->trace_rs, "http_chunk", b.p);
    gl_buf_free(&b);
}

static int on_event(void *ud, const sse_event *ev) {
    http_req *r = ud;
    ev_node *n = malloc(sizeof *n + ev->data_len + ev->event_len + ev->id_len + 3);
    if (!n) return 1;
    n->next = NULL;
    n->data_len = ev->data_len;
    n->event_len = ev->event_len;
    n->id_len = ev->id_len;
    memcpy(n->mem, ev->data, ev->data_len);
    n->mem[ev->data_len] = 0;
    n->event = n->mem + ev->data_len + 1;
    memcpy(n->event, ev->event, ev->event_len);
    n->event[ev->event_len] = 0;
    n->id = n->event + ev->event_len + 1;
    memcpy(n->id, ev->id, ev->id_len);
    n->id[ev->id_len] = 0;
    if (r->evq_tail) r->evq_tail->next = n;
    else r->evq_head = n;
    r->evq_tail = n;
    r->evq_bytes += ev->data_len + ev->event_len + ev->id_len;
    return 0;
}

static size_t write_cb(char *p, size_t sz, size_t nmemb, void *ud) {
    http_req *r = ud;
    size_t len = sz * nmemb;
    r->t_rx = uv_now(mloop);
    if (r->error_body || r->mode == M_FULL) {
        size_t limit = r->error_body ? MAX_ERROR_BODY : r->max_body;
        if (r->body.len + len > limit) { r->too_big = 1; return 0; }
        gl_buf_add(&r->body, p, len);
        if (gl_trace_on()) trace_chunk(r, p, len);
        gl_rec_event(r->rec, "recv", NULL, p, len);
        return len;
    }
    if (r->mode == M_STREAM) {
        if (r->body.len - r->body_off >= HIGH_WATER) { r->paused = 1; return CURL_WRITEFUNC_PAUSE; }
        if (r->body_off > 0 && r->body_off == r->body.len) r->body.len = r->body_off = 0;
        gl_buf_add(&r->body, p, len);
    } else {
        if (r->evq_bytes >= HIGH_WATER) { r->paused = 1; return CURL_WRITEFUNC_PAUSE; }
        int rc = sse_feed(&r->sse, p, len, on_event, r, NULL);
        if (rc != SSE_OK) { r->sse_failed = rc; return 0; }
    }
    if (gl_trace_on()) trace_chunk(r, p, len);
    gl_rec_event(r->rec, "recv", NULL, p, len);
    gl_wake(&r->waiter);
    return len;
}

static size_t header_cb(char *p, size_t sz, size_t nmemb, void *ud) {
    http_req *r = ud;
    size_t len = sz * nmemb;
    r->t_rx = uv_now(mloop);
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) r->resp_headers.len = 0; /* new response */
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        long st = r->play_status;
        if (r->easy) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 100 && st < 200) return len; /* interim response */
        r->status = st;
        r->headers_done = 1;
        if (r->resp_headers.len) { /* server text enters here: no secret in err.headers, :headers() */
            size_t n;
            char *red = gl_redact(r->resp_headers.p, r->resp_headers.len, &n);
            r->resp_headers.len = 0;
            gl_buf_add(&r->resp_headers, red, n);
            free(red);
        }
        r->error_body = st >= 300; /* redirects are not followed: an error too */
        if (gl_trace_on()) {
            gl_buf b = {0};
            char s[64];
            snprintf(s, sizeof s, "\"status\":%ld,\"url\":", st);
            gl_buf_adds(&b, s);
            gl_buf_json_str(&b, r->url, strlen(r->url));
            gl_buf_adds(&b, ",\"headers\":");
            gl_buf_json_str(&b, r->resp_headers.p ? r->resp_headers.p : "", r->resp_headers.len);
            gl_trace_record("http_response", b.p);
            gl_buf_free(&b);
        }
        gl_rec_response(r->rec, st, r->resp_headers.p, r->resp_headers.len);
        gl_wake(&r->waiter);
        return len;
    }
    if (r->resp_headers.len + len > (1u << 20)) return 0;
    gl_buf_add(&r->resp_headers, p, len);
    return len;
}

/* Sending the request body is activity too: a large upload on a slow
 * link must not look idle. */
static int xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal; (void)dlnow; (void)ultotal;
    http_req *r = ud;
    if (ulnow != r->ul_seen) {
        r->ul_seen = ulnow;
        r->t_rx = uv_now(mloop);
    }
    return 0;
}

/* ---- request lifecycle --------------------------------------------- */

static http_req *check_req(lua_State *L, int i) { return luaL_checkudata(L, i, REQ_MT); }

static void timer_free(uv_handle_t *h) { free(h); }

static void req_release(http_req *r) {
    if (r->closed) return;
    r->closed = 1;
    if (r->in_multi) curl_multi_remove_handle(multi, r->easy);
    r->in_multi = 0;
    if (r->easy) curl_easy_cleanup(r->easy);
    r->easy = NULL;
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    gl_buf_free(&r->resp_headers);
    gl_buf_free(&r->body);
    if (r->sse_ready) sse_free(&r->sse);
    r->sse_ready = 0;
    for (ev_node *n = r->evq_head, *nx; n; n = nx) { nx = n->next; free(n); }
    r->evq_head = r->evq_tail = NULL;
    if (r->timer) uv_close((uv_handle_t *)r->timer, timer_free);
    r->timer = NULL;
    if (r->play_timer) uv_close((uv_handle_t *)r->play_timer, timer_free);
    r->play_timer = NULL;
    free(r->play);
    r->play = NULL;
    free(r->play_fail);
    r->play_fail = NULL;
    gl_rec_abandon(r->rec);
    r->rec = NULL;
    trace_chunk_end(r);
    free(r->url);
    r->url = NULL;
    gl_waiter_cancel(&r->waiter);
    r->state = S_DONE;
}

static int req_gc(lua_State *L) {
    req_release(check_req(L, 1));
    return 0;
}

static int req_tostring(lua_State *L) {
    http_req *r = check_req(L, 1);
    if (r->closed) lua_pushliteral(L, "http.request (closed)");
    else lua_pushfstring(L, "http.request (%s) %s %s", r->state == S_DONE ? "done" : "running", r->method,
                         r->url ? r->url : "");
    return 1;
}

/* Milliseconds until the idle timeout or the deadline, whichever is
 * first (0: now; UINT64_MAX: neither applies). Idle time counts from the
 * last byte or from when the consumer began to wait, whichever is later:
 * a transfer paused because the consumer was busy is not idle. */
static uint64_t ms_left(http_req *r, uint64_t now, int *which) {
    uint64_t left = UINT64_MAX;
    *which = 0;
    if (r->timeout > 0) {
        uint64_t from = r->t_rx > r->t_wait ? r->t_rx : r->t_wait;
        uint64_t at = from + (uint64_t)(r->timeout * 1000);
        left = at > now ? at - now : 0;
        *which = 1;
    }
    if (r->deadline > 0) {
        uint64_t at = r->t_start + (uint64_t)(r->deadline * 1000);
        uint64_t d = at > now ? at - now : 0;
        if (d <= left) { left = d; *which = 2; }
    }
    return left;
}

static void idle_timeout_cb(uv_timer_t *t) {
    http_req *r = t->data;
    int which;
    uint64_t left = ms_left(r, uv_now(t->loop), &which);
    if (left > 0 && left != UINT64_MAX) { /* bytes came meanwhile: wait on */
        uv_timer_start(t, idle_timeout_cb, left, 0);
        return;
    }
    r->timed_out = which;
    gl_wake(&r->waiter);
}

/* Park the task until something happens to r (or the idle timeout, or
 * the deadline): one timer, re-armed lazily, no work per byte. */
static int wait_req(lua_State *L, http_req *r, lua_KFunction k) {
    if (r->timeout > 0 || r->deadline > 0) {
        if (!r->timer) {
            r->timer = malloc(sizeof *r->timer);
            if (!r->timer) return luaL_error(L, "out of memory");
            uv_timer_init(gl_loop(L), r->timer);
            r->timer->data = r;
        }
        r->t_wait = uv_now(gl_loop(L));
        int which;
        uint64_t left = ms_left(r, r->t_wait, &which);
        uv_timer_start(r->timer, idle_timeout_cb, left, 0);
    }
    return gl_yield(L, &r->waiter, 0, k);
}

/* The deadline passed while the consumer was away (not waiting)? */
static int past_deadline(http_req *r) {
    if (r->deadline <= 0 || r->state == S_DONE || r->timed_out) return r->timed_out;
    if (uv_now(mloop) >= r->t_start + (uint64_t)(r->deadline * 1000)) r->timed_out = 2;
    return r->timed_out;
}

static void stop_timer(http_req *r) {
    if (r->timer) uv_timer_stop(r->timer);
}

static const char *kind_of(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
    case CURLE_COULDNT_CONNECT: return "connect";
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return "tls";
    default: return "network";
    }
}

static void set_common(lua_State *L, int idx, http_req *r) {
    lua_pushstring(L, r->url);
    lua_setfield(L, idx, "url");
    lua_pushstring(L, r->method);
    lua_setfield(L, idx, "method");
}

/* What ended a transfer that did not deliver a whole response: curl's
 * words, or, when curl saw nothing wrong (a connection closed early can
 * look like a clean end to it), where the connection was closed. */
static const char *failure_detail(http_req *r) {
    if (r->result != CURLE_OK) return r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result);
    if (!r->headers_done)
        return r->resp_headers.len ? "the connection was closed by the server inside the response headers"
                                   : "the connection was closed by the server before any response";
    return "the connection was closed by the server";
}

static int push_curl_error(lua_State *L, http_req *r) {
    const char *detail = failure_detail(r);
    lua_pushnil(L);
    int e;
    if (r->timed_out == 2)
        e = gl_error_new(L, "timeout", "%s %s: the deadline (%.3g s) passed before the %s was complete", r->method,
                         r->url, r->deadline, r->headers_done ? "answer" : "response");
    else if ((r->timed_out || r->result == CURLE_OPERATION_TIMEDOUT) && r->headers_done && r->mode == M_FULL)
        e = gl_error_new(L, "timeout", "%s %s: the server sent nothing for %.3g s in the middle of the response "
                         "(after %zu bytes of the body)", r->method, r->url, r->timeout, r->body.len);
    else if ((r->timed_out || r->result == CURLE_OPERATION_TIMEDOUT) && r->headers_done)
        e = gl_error_new(L, "timeout", "%s %s: the stream stalled: the server sent nothing for %.3g s (after %lu %s)",
                         r->method, r->url, r->timeout, r->events, r->mode == M_SSE ? "event(s)" : "chunk(s)");
    else if (r->timed_out || r->result == CURLE_OPERATION_TIMEDOUT)
        e = gl_error_new(L, "timeout", "%s %s: no response within %.3g s", r->method, r->url, r->timeout);
    else if (r->headers_done && r->mode != M_FULL)
        e = gl_error_new(L, "stream_cut", "%s %s: the stream was cut after %lu %s: %s", r->method, r->url,
                         r->events, r->mode == M_SSE ? "event(s)" : "chunk(s)", detail);
    else
        e = gl_error_new(L, kind_of(r->result), "%s %s: %s", r->method, r->url, detail);
    if (r->timed_out == 2) {
        lua_pushnumber(L, r->deadline);
        lua_setfield(L, e, "deadline");
    }
    set_common(L, e, r);
    lua_pushinteger(L, (lua_Integer)r->result);
    lua_setfield(L, e, "curl_code");
    if (r->status) {
        lua_pushinteger(L, r->status);
        lua_setfield(L, e, "status");
    }
    return 2;
}

/* Response headers as a table with lower-case names. */
static void push_headers(lua_State *L, http_req *r) {
    lua_newtable(L);
    const char *p = r->resp_headers.p, *end = p + r->resp_headers.len;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (const char *q = p; q < colon; q++) luaL_addchar(&b, (char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q));
            luaL_pushresult(&b);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
            lua_pushvalue(L, -1);
            if (lua_rawget(L, -3) == LUA_TSTRING) { /* repeated: join */
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, v, (size_t)(ve - v));
                lua_concat(L, 3);
            } else {
                lua_pop(L, 1);
                lua_pushlstring(L, v, (size_t)(ve - v));
            }
            lua_rawset(L, -3);
        }
        p = eol + 1;
    }
}

/* Seconds from a protobuf Duration such as "53.016342224s". */
static double parse_duration(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    return v;
}

/* Given a decoded Google error object {code,message,status,details} at
 * index gi, find RetryInfo.retryDelay. Returns seconds or -1. */
static double retry_info(lua_State *L, int gi) {
    double secs = -1;
    if (lua_getfield(L, gi, "details") == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, -1);
        for (lua_Integer i = 1; i <= n && secs < 0; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TTABLE) {
                lua_getfield(L, -1, "@type");
                const char *t = lua_tostring(L, -1);
                if (t && strstr(t, "google.rpc.RetryInfo")) {
                    if (lua_getfield(L, -2, "retryDelay") == LUA_TSTRING) secs = parse_duration(lua_tostring(L, -1));
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return secs;
}

/* Build an "http" error from a Google error body text. status 0 = take it
 * from the body's error.code (mid-stream errors). Pushes the error table. */
static int push_google_error(lua_State *L, http_req *r, long status, const char *raw, size_t rawlen, int midstream) {
    int e = gl_error_new(L, "http", "");
    set_common(L, e, r);
    /* the server's words enter here: every field built from them is
     * redacted (err.body, err.error and its details, the message) */
    size_t len;
    char *body = gl_redact(raw, rawlen, &len);
    lua_pushlstring(L, body, len > MAX_ERROR_BODY ? MAX_ERROR_BODY : len);
    lua_setfield(L, e, "body");
    char jerr[256];
    int gi = 0;
    if (len > 0 && gl_json_decode(L, body, len, jerr, sizeof jerr)) {
        if (gl_redact_value(L, -1)) { /* a secret written with JSON escapes */
            lua_pushliteral(L, "(withheld: the body holds a secret)");
            lua_setfield(L, e, "body");
        }
        if (lua_istable(L, -1) && lua_rawlen(L, -1) == 1) { /* [ {"error":...} ] */
            lua_rawgeti(L, -1, 1);
            lua_remove(L, -2);
        }
        if (lua_istable(L, -1) && lua_getfield(L, -1, "error") == LUA_TTABLE) {
            lua_remove(L, -2);
            gi = lua_gettop(L);
        } else lua_pop(L, 2);
    }
    if (gi) {
        lua_pushvalue(L, gi);
        lua_setfield(L, e, "error");
        if (!status) {
            lua_getfield(L, gi, "code");
            status = (long)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pushinteger(L, status);
    lua_setfield(L, e, "status");
    push_headers(L, r); /* built once: for Retry-After and err.headers */
    int hi = lua_gettop(L);
    double ra = gi ? retry_info(L, gi) : -1;
    if (ra < 0) {
        lua_getfield(L, hi, "retry-after");
        if (lua_isstring(L, -1)) ra = parse_duration(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (ra >= 0) {
        lua_pushnumber(L, ra);
        lua_setfield(L, e, "retry_after");
    }
    int redirect = !midstream && status >= 300 && status < 400;
    if (redirect) { /* where to, secrets redacted (a portal may echo the key) */
        size_t ll;
        const char *loc = lua_getfield(L, hi, "location") == LUA_TSTRING ? lua_tolstring(L, -1, &ll) : NULL;
        char *red = loc ? gl_redact(loc, ll, &ll) : NULL;
        lua_pop(L, 1);
        if (red) {
            lua_pushlstring(L, red, ll);
            free(red);
        } else lua_pushliteral(L, "");
        lua_setfield(L, e, "redirect");
    }
    if (!midstream) {
        lua_pushvalue(L, hi);
        lua_setfield(L, e, "headers");
    } else {
        lua_pushboolean(L, 1);
        lua_setfield(L, e, "midstream");
        lua_pushinteger(L, (lua_Integer)r->events);
        lua_setfield(L, e, "events");
    }
    /* message: what, where, and the server's words */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%s %s: HTTP %d", r->method, r->url, (int)status);
    luaL_addvalue(&b);
    if (redirect) {
        lua_getfield(L, e, "redirect");
        lua_pushfstring(L, ": a proxy or captive portal redirected the request to %s (API calls never follow "
                        "redirects; check HTTPS_PROXY and the base URL)",
                        *lua_tostring(L, -1) ? lua_tostring(L, -1) : "(no Location)");
        lua_remove(L, -2);
        luaL_addvalue(&b);
    } else if (gi) {
        if (lua_getfield(L, gi, "status") == LUA_TSTRING) {
            luaL_addchar(&b, ' ');
            luaL_addvalue(&b);
        } else lua_pop(L, 1);
        if (lua_getfield(L, gi, "message") == LUA_TSTRING) {
            luaL_addstring(&b, ": ");
            luaL_addvalue(&b);
        } else lua_pop(L, 1);
    } else if (len > 0) {
        lua_pushfstring(L, ": %s", len > 200 ? "(non-JSON body, see err.body)" : "");
        luaL_addvalue(&b);
        if (len <= 200) luaL_addlstring(&b, body, len);
    }
    if (midstream) {
        lua_pushfstring(L, " (in the stream, after %d event(s))", (int)r->events);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t ml;
    const char *m = lua_tolstring(L, -1, &ml);
    char *red = gl_redact(m, ml, &ml);
    lua_pop(L, 1);
    lua_pushlstring(L, red, ml);
    free(red);
    lua_setfield(L, e, "message");
    if (gi) lua_remove(L, gi);
    lua_settop(L, e);
    free(body);
    return e;
}

/* ---- starting a request -------------------------------------------- */

static int opt_field(lua_State *L, int t, const char *k, int type) {
    int tt = lua_getfield(L, t, k);
    if (tt != LUA_TNIL && tt != type)
        return luaL_error(L, "http: option '%s' must be a %s, not a %s", k, lua_typename(L, type),
                          lua_typename(L, tt));
    return tt;
}

/* ---- replay ------------------------------------------------------- */

static void play_step(uv_timer_t *t);

static void play_at(http_req *r, double at) {
    double now = (uv_hrtime() - r->play_t0) / 1e9;
    double wait = at - now;
    uv_timer_start(r->play_timer, play_step, wait > 0 ? (uint64_t)(wait * 1000 + 0.5) : 0, 0);
}

static void play_finish(http_req *r, int result) {
    trace_chunk_end(r);
    r->result = (CURLcode)result;
    r->state = S_DONE;
    gl_wake(&r->waiter);
}

/* Serve the recorded exchange through the same callbacks curl would call,
 * at the recorded times. */
static void play_step(uv_timer_t *t) {
    http_req *r = t->data;
    double now = (uv_hrtime() - r->play_t0) / 1e9;
    if (r->state == S_DONE || r->paused) return;
    if (r->play_has_resp && !r->headers_done) {
        if (now < r->play_resp_t) { play_at(r, r->play_resp_t); return; }
        const char *p = r->play_headers, *end = p + r->play_headers_len;
        while (p < end) { /* one header line at a time, as curl does */
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            size_t n = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);
            if (!(n <= 2 && (p[0] == '\r' || p[0] == '\n'))) header_cb((char *)p, 1, n, r);
            p += n;
        }
        header_cb("\r\n", 1, 2, r);
    }
    while (r->play_i < r->play_n) {
        struct play_ev *ev = &r->play[r->play_i];
        if (now < ev->t) { play_at(r, ev->t); return; }
        size_t rc = write_cb((char *)ev->p, 1, ev->len, r);
        if (rc == CURL_WRITEFUNC_PAUSE) return; /* resumed by resume() */
        if (rc != ev->len) { play_finish(r, CURLE_WRITE_ERROR); return; }
        r->play_i++;
    }
    if (now < r->play_end_t) { play_at(r, r->play_end_t); return; }
    play_finish(r, r->play_result);
}

/* Let a paused transfer go on (curl, or the cassette). */
static void resume(http_req *r) {
    r->paused = 0;
    if (r->play_timer) uv_timer_start(r->play_timer, play_step, 0, 0);
    else if (r->easy) curl_easy_pause(r->easy, CURLPAUSE_CONT);
}

static double dbl_field(lua_State *L, int t, const char *k, double dflt) {
    lua_getfield(L, t, k);
    double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : dflt;
    lua_pop(L, 1);
    return v;
}

static int num_field(lua_State *L, int t, const char *k, double dflt) { return (int)dbl_field(L, t, k, dflt); }

/* Find the recorded exchange (kept as the request's user value 2, so the
 * bytes stay alive) and start serving it. */
static void play_start(lua_State *L, http_req *r, const char *method, const char *url, const char *body,
                       size_t body_len) {
    int top = lua_gettop(L);
    if (!gl_play_match(L, "http", method, url, body, body_len)) {
        r->play_fail = strdup(lua_tostring(L, -1));
        r->state = S_DONE;
        lua_settop(L, top);
        return;
    }
    int ex = lua_gettop(L);
    lua_pushvalue(L, ex);
    lua_setiuservalue(L, 2, 2);
    r->play_result = num_field(L, ex, "result", 0);
    r->play_end_t = dbl_field(L, ex, "t", 0);
    if (lua_getfield(L, ex, "error") == LUA_TSTRING) snprintf(r->errbuf, sizeof r->errbuf, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, ex, "response") == LUA_TTABLE) {
        r->play_has_resp = 1;
        r->play_status = num_field(L, -1, "status", 0);
        r->play_resp_t = dbl_field(L, -1, "t", 0);
        lua_getfield(L, -1, "headers");
        r->play_headers = lua_tolstring(L, -1, &r->play_headers_len);
        if (!r->play_headers) r->play_headers = "", r->play_headers_len = 0;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, ex, "events") == LUA_TTABLE) {
        size_t n = lua_rawlen(L, -1);
        r->play = calloc(n ? n : 1, sizeof *r->play);
        if (!r->play) luaL_error(L, "out of memory");
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (lua_Integer)i);
            lua_getfield(L, -1, "bytes");
            size_t len;
            const char *p = lua_tolstring(L, -1, &len);
            if (p) {
                r->play[r->play_n].p = p;
                r->play[r->play_n].len = len;
                r->play[r->play_n].t = dbl_field(L, -2, "t", 0);
                r->play_n++;
            }
            lua_pop(L, 2);
        }
    }
    lua_settop(L, top);
    r->play_timer = malloc(sizeof *r->play_timer);
    if (!r->play_timer) luaL_error(L, "out of memory");
    uv_timer_init(gl_loop(L), r->play_timer);
    r->play_timer->data = r;
    r->play_t0 = uv_hrtime();
    r->state = S_RUNNING;
    play_at(r, 0);
}

static int play_failed(lua_State *L, http_req *r) {
    int n = gl_fail(L, "replay", "%s", r->play_fail);
    req_release(r);
    return n;
}

static http_req *start(lua_State *L, int mode) {
    luaL_checktype(L, 1, LUA_TTABLE);
    multi_init(L);
    lua_settop(L, 1);
    http_req *r = lua_newuserdatauv(L, sizeof *r, 2); /* index 2; uv 1 body, 2 replayed exchange */
    memset(r, 0, sizeof *r);
    r->closed = 1; /* born closed: a failed open leaves a consistent object */
    luaL_setmetatable(L, REQ_MT);
    r->mode = mode;
    r->decode = 1;
    r->max_body = DEFAULT_MAX_BODY;

    if (opt_field(L, 1, "url", LUA_TSTRING) == LUA_TNIL) luaL_error(L, "http: option 'url' is required");
    const char *url = lua_tostring(L, -1);
    int has_body = opt_field(L, 1, "body", LUA_TSTRING) != LUA_TNIL;
    size_t body_len = 0;
    const char *body = has_body ? lua_tolstring(L, -1, &body_len) : NULL;
    if (has_body) { /* the request keeps its body alive: no copy */
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 2, 1);
    }
    const char *method = has_body ? "POST" : "GET";
    if (opt_field(L, 1, "method", LUA_TSTRING) != LUA_TNIL) method = lua_tostring(L, -1);
    if (strlen(method) >= sizeof r->method) luaL_error(L, "http: bad method '%s'", method);
    if (opt_field(L, 1, "timeout", LUA_TNUMBER) != LUA_TNIL) r->timeout = lua_tonumber(L, -1);
    if (opt_field(L, 1, "deadline", LUA_TNUMBER) != LUA_TNIL) r->deadline = lua_tonumber(L, -1);
    int insecure = opt_field(L, 1, "insecure", LUA_TBOOLEAN) != LUA_TNIL && lua_toboolean(L, -1);
    if (opt_field(L, 1, "max_body", LUA_TNUMBER) != LUA_TNIL) r->max_body = (size_t)lua_tointeger(L, -1);
    size_t max_event = DEFAULT_MAX_EVENT;
    if (opt_field(L, 1, "max_event", LUA_TNUMBER) != LUA_TNIL) max_event = (size_t)lua_tointeger(L, -1);
    if (opt_field(L, 1, "decode", LUA_TBOOLEAN) != LUA_TNIL) r->decode = lua_toboolean(L, -1);

    r->closed = 0;
    snprintf(r->method, sizeof r->method, "%s", method);
    size_t ul;
    r->url = gl_redact(url, strlen(url), &ul);
    r->easy = curl_easy_init();
    if (!r->easy) luaL_error(L, "http: curl_easy_init failed");
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "glrun/" GLRUN_VERSION);
    if (strcmp(method, "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (has_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is reported, never followed */
    /* timeout is idle time (our timer, see wait_req), in every mode */
    if (r->timeout > 0) curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout * 1000));
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    r->t_start = r->t_rx = uv_now(mloop);
    if (insecure) {
        gl_log(GL_LOG_WARN, "http", "TLS verification is OFF for %s (insecure=true)", r->url);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        /* the CA set the Live transport trusts: libwebsockets loads
         * OpenSSL's default paths, which honour SSL_CERT_FILE and
         * SSL_CERT_DIR (else the system store, curl's default too) */
        const char *ca = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
        if (ca && *ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
        if (dir && *dir) curl_easy_setopt(e, CURLOPT_CAPATH, dir);
    }
    /* headers: {name = value} or {"Name: value", ...} */
    r->hdrs = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    gl_buf tr = {0};
    if (opt_field(L, 1, "headers", LUA_TTABLE) != LUA_TNIL) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            const char *line;
            if (lua_type(L, -2) == LUA_TSTRING) {
                const char *name = lua_tostring(L, -2);
                const char *val = luaL_tolstring(L, -1, NULL);
                lua_pushfstring(L, "%s: %s", name, val);
                lua_remove(L, -2);
            } else luaL_tolstring(L, -1, NULL);
            line = lua_tostring(L, -1);
            r->hdrs = curl_slist_append(r->hdrs, line);
            if (gl_trace_on() || gl_cassette_recording()) {
                if (tr.len) gl_buf_adds(&tr, ",");
                gl_buf_json_str(&tr, line, strlen(line));
            }
            lua_pop(L, 2);
        }
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    if (mode == M_SSE) {
        sse_init(&r->sse, max_event);
        r->sse_ready = 1;
    }
    if (gl_trace_on()) {
        gl_buf b = {0};
        gl_buf_adds(&b, "\"method\":");
        gl_buf_json_str(&b, method, strlen(method));
        gl_buf_adds(&b, ",\"url\":");
        gl_buf_json_str(&b, r->url, strlen(r->url));
        gl_buf_adds(&b, ",\"headers\":[");
        if (tr.p) gl_buf_add(&b, tr.p, tr.len);
        gl_buf_adds(&b, "]");
        if (has_body) {
            gl_buf_adds(&b, ",\"body\":");
            gl_buf_json_str(&b, body, body_len);
        }
        gl_trace_record("http_request", b.p);
        gl_buf_free(&b);
    }
    if (gl_cassette_replaying()) {
        gl_buf_free(&tr);
        curl_easy_cleanup(r->easy); /* no network: the cassette answers */
        r->easy = NULL;
        play_start(L, r, method, url, has_body ? body : NULL, body_len);
        lua_settop(L, 2);
        return r;
    }
    r->rec = gl_rec_begin("http", method, url, tr.p, has_body ? body : NULL, body_len);
    gl_buf_free(&tr);
    CURLMcode mc = curl_multi_add_handle(multi, e);
    if (mc != CURLM_OK) luaL_error(L, "http: curl_multi_add_handle: %s", curl_multi_strerror(mc));
    r->in_multi = 1;
    r->state = S_RUNNING;
    lua_settop(L, 2);
    return r;
}

/* ---- http.request ---------------------------------------------------- */

static int request_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status; (void)ctx;
    http_req *r = check_req(L, 2);
    stop_timer(r);
    if (r->state != S_DONE && !r->timed_out) return wait_req(L, r, request_k);
    /* a transfer curl calls complete without a whole header block was cut */
    if (r->timed_out || !r->headers_done ||
        (r->result != CURLE_OK && !(r->error_body && r->result == CURLE_WRITE_ERROR))) {
        int n = r->too_big && !r->error_body
                    ? gl_fail(L, "protocol", "%s %s: response body exceeds max_body (%zu bytes)", r->method, r->url,
                              r->max_body)
                    : push_curl_error(L, r);
        req_release(r);
        return n;
    }
    if (r->status >= 300) {
        lua_pushnil(L);
        push_google_error(L, r, r->status, r->body.p ? r->body.p : "", r->body.len, 0);
        req_release(r);
        return 2;
    }
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, r->body.p ? r->body.p : "", r->body.len);
    lua_setfield(L, -2, "body");
    push_headers(L, r);
    lua_setfield(L, -2, "headers");
    req_release(r);
    return 1;
}

static int l_request(lua_State *L) {
    if (!gl_in_task(L)) return luaL_error(L, "http.request must be called inside a task");
    http_req *r = start(L, M_FULL);
    if (r->play_fail) return play_failed(L, r);
    return request_k(L, 0, 0);
}

/* ---- stream / sse: wait for headers, then iterate -------------------- */

static int next_impl(lua_State *L, int idx);
static int l_next_bound(lua_State *L);

static int headers_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status; (void)ctx;
    http_req *r = check_req(L, 2);
    stop_timer(r);
    if (r->timed_out) {
        int n = push_curl_error(L, r);
        req_release(r);
        return n;
    }
    if (!r->headers_done && r->state != S_DONE) return wait_req(L, r, headers_k);
    /* once a successful status arrived, the iterator delivers what came
     * and then raises whatever ended the transfer */
    if (r->state == S_DONE && !r->headers_done) {
        int n = push_curl_error(L, r);
        req_release(r);
        return n;
    }
    if (r->error_body) {
        if (r->state != S_DONE) return wait_req(L, r, headers_k);
        lua_pushnil(L);
        push_google_error(L, r, r->status, r->body.p ? r->body.p : "", r->body.len, 0);
        req_release(r);
        return 2;
    }
    /* iterator (bound to the request, so `local it = assert(...)` works
     * too), state, nil, closing value */
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, l_next_bound, 1);
    lua_pushvalue(L, 2);
    lua_pushnil(L);
    lua_pushvalue(L, 2);
    return 4;
}

static int l_stream(lua_State *L) {
    if (!gl_in_task(L)) return luaL_error(L, "http.stream must be called inside a task");
    http_req *r = start(L, M_STREAM);
    if (r->play_fail) return play_failed(L, r);
    return headers_k(L, 0, 0);
}

static int l_sse(lua_State *L) {
    if (!gl_in_task(L)) return luaL_error(L, "http.sse must be called inside a task");
    http_req *r = start(L, M_SSE);
    if (r->play_fail) return play_failed(L, r);
    return headers_k(L, 0, 0);
}

/* End of an SSE stream: clean end, cut, raw error JSON, or junk. */
static int sse_end(lua_State *L, http_req *r) {
    if (r->sse_failed == SSE_ERR_TOO_BIG) {
        int e = gl_error_new(L, "protocol", "%s %s: an SSE event is larger than max_event (%zu bytes)", r->method,
                             r->url, r->sse.max_event);
        set_common(L, e, r);
        return lua_error(L);
    }
    size_t rawlen = 0;
    int fin = sse_finish(&r->sse);
    const char *raw = sse_raw(&r->sse, &rawlen);
    if (raw && rawlen) {
        const char *p = raw;
        while (p < raw + rawlen && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
        if (p < raw + rawlen && (*p == '{' || *p == '[')) {
            push_google_error(L, r, 0, raw, rawlen, 1);
            lua_getfield(L, -1, "error");
            int google = lua_istable(L, -1);
            lua_pop(L, 1);
            if (google) return lua_error(L);
            lua_pop(L, 1);
        }
        char *red = gl_redact(raw, rawlen, NULL); /* before %.80s cuts a secret short */
        int e = gl_error_new(L, "protocol", "%s %s: data that is not SSE in the stream after %lu event(s): %.80s",
                             r->method, r->url, r->events, red);
        free(red);
        set_common(L, e, r);
        return lua_error(L);
    }
    if (r->result != CURLE_OK) {
        push_curl_error(L, r);
        return lua_error(L);
    }
    if (fin == SSE_ERR_CUT) {
        int e = gl_error_new(L, "stream_cut", "%s %s: the stream ended in the middle of an event (after %lu complete event(s))",
                             r->method, r->url, r->events);
        set_common(L, e, r);
        lua_pushinteger(L, (lua_Integer)r->events);
        lua_setfield(L, e, "events");
        return lua_error(L);
    }
    return 0;
}

static int next_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    (void)ctx;
    return next_impl(L, 1); /* both entry points leave the request at 1 */
}

static int next_impl(lua_State *L, int idx) {
    http_req *r = check_req(L, idx);
    stop_timer(r);
    if (r->closed) return luaL_error(L, "http: use of a closed stream");
    if (past_deadline(r)) {
        push_curl_error(L, r);
        req_release(r);
        return lua_error(L);
    }
    if (r->mode == M_SSE && r->evq_head) {
        ev_node *n = r->evq_head;
        r->evq_head = n->next;
        if (!r->evq_head) r->evq_tail = NULL;
        r->evq_bytes -= n->data_len + n->event_len + n->id_len;
        r->events++;
        lua_createtable(L, 0, 4);
        lua_pushlstring(L, n->mem, n->data_len);
        lua_setfield(L, -2, "data");
        if (n->event_len) { lua_pushlstring(L, n->event, n->event_len); lua_setfield(L, -2, "event"); }
        if (n->id_len) { lua_pushlstring(L, n->id, n->id_len); lua_setfield(L, -2, "id"); }
        if (r->decode) {
            char jerr[256];
            if (!gl_json_decode(L, n->mem, n->data_len, jerr, sizeof jerr)) {
                int e = gl_error_new(L, "protocol", "%s %s: malformed JSON in SSE event #%lu: %s", r->method, r->url,
                                     r->events, jerr);
                set_common(L, e, r);
                size_t rl;
                char *red = gl_redact(n->mem, n->data_len, &rl);
                lua_pushlstring(L, red, rl > 4096 ? 4096 : rl);
                free(red);
                lua_setfield(L, e, "data");
                free(n);
                return lua_error(L);
            }
            if (lua_istable(L, -1)) {
                int is_error = lua_getfield(L, -1, "error") != LUA_TNIL;
                lua_pop(L, 1);
                if (is_error) { /* an error sent as an event: the server's words enter here */
                    gl_redact_value(L, -1);
                    lua_getfield(L, -2, "data");
                    gl_redact_value(L, -1);
                    lua_setfield(L, -3, "data");
                }
            }
            lua_setfield(L, -2, "json");
        }
        free(n);
        if (r->paused && r->evq_bytes < HIGH_WATER / 2) resume(r);
        return 1;
    }
    if (r->mode == M_STREAM && r->body_off < r->body.len) {
        lua_pushlstring(L, r->body.p + r->body_off, r->body.len - r->body_off);
        r->body_off = r->body.len = 0;
        r->events++;
        if (r->paused) resume(r);
        return 1;
    }
    if (r->paused) { /* drained: let curl deliver more (may call write_cb now) */
        resume(r);
        if (r->evq_head || r->body_off < r->body.len) return next_impl(L, idx);
    }
    if (r->state == S_DONE) {
        if (r->mode == M_SSE) sse_end(L, r);
        else if (r->result != CURLE_OK) {
            push_curl_error(L, r);
            req_release(r);
            return lua_error(L);
        }
        req_release(r);
        lua_pushnil(L);
        return 1;
    }
    return wait_req(L, r, next_k);
}

/* it(req [, control]) -> next event/chunk, nil at the end; raises errors */
static int l_next(lua_State *L) {
    lua_settop(L, 1);
    if (!gl_in_task(L)) return luaL_error(L, "http: stream iterators must run inside a task");
    return next_impl(L, 1);
}

static int l_next_bound(lua_State *L) {
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    if (!gl_in_task(L)) return luaL_error(L, "http: stream iterators must run inside a task");
    return next_impl(L, 1);
}

static int l_close(lua_State *L) {
    req_release(check_req(L, 1));
    return 0;
}

static int l_status(lua_State *L) {
    http_req *r = check_req(L, 1);
    lua_pushinteger(L, r->status);
    return 1;
}

static int l_headers(lua_State *L) {
    http_req *r = check_req(L, 1);
    if (r->closed) return 0;
    push_headers(L, r);
    return 1;
}

/* req:stats() -> {queued = bytes buffered in C, paused = bool, delivered = n} */
static int l_stats(lua_State *L) {
    http_req *r = check_req(L, 1);
    lua_createtable(L, 0, 4);
    size_t q = r->mode == M_SSE ? r->evq_bytes : r->body.len - r->body_off;
    lua_pushinteger(L, (lua_Integer)q);
    lua_setfield(L, -2, "queued");
    lua_pushboolean(L, r->paused);
    lua_setfield(L, -2, "paused");
    lua_pushinteger(L, (lua_Integer)r->events);
    lua_setfield(L, -2, "delivered");
    lua_pushinteger(L, HIGH_WATER);
    lua_setfield(L, -2, "high_water");
    return 1;
}

static const luaL_Reg req_methods[] = {
    {"next", l_next}, {"close", l_close}, {"status", l_status}, {"headers", l_headers},
    {"stats", l_stats}, {NULL, NULL},
};

/* http.curl_version() — asked for on demand: building the string costs
 * milliseconds at start-up */
static int l_curl_version(lua_State *L) {
    lua_pushstring(L, curl_version());
    return 1;
}

static const luaL_Reg http_funcs[] = {
    {"request", l_request}, {"stream", l_stream}, {"sse", l_sse}, {"curl_version", l_curl_version}, {NULL, NULL},
};

int luaopen_glrun_http(lua_State *L) {
    luaL_newlib(L, req_methods);
    if (luaL_newmetatable(L, REQ_MT)) {
        lua_pushvalue(L, -2);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, req_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, req_gc);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, req_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 2); /* the metatable keeps the methods */
    luaL_newlib(L, http_funcs);
    return 1;
}
