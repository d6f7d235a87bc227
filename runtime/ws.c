/*
 * ws.c — WebSocket client, Lua module "glrun.ws" (the Lua side; the
 * libwebsockets side is ws_lws.c).
 *
 *   local ws = require "glrun.ws"
 *   local c, err = ws.connect{url=, headers=, protocols=, timeout=30,
 *                             max_message=32 MiB, queue=64, queue_bytes=64 MiB,
 *                             send_buffer=4 MiB, idle_timeout=, ping=,
 *                             proxy=, insecure=false}
 *   c:send(data [, "text"|"binary"])   -> true | nil, err
 *   c:recv([timeout])                  -> msg, "text"|"binary" | nil, err
 *   c:close([code, reason]); c:stats(); c:state()
 *
 * Shape (OpenResty cosockets): a call that can finish now returns now
 * (queued messages, queue room); otherwise the task parks on the
 * connection's waiter and the continuation re-checks the state. Errors are
 * values with kind ws_handshake / ws_closed / timeout / dns / connect / tls /
 * protocol; any non-timeout failure is sticky. Misuse raises.
 *
 * A 3xx answer to the upgrade is never followed: a ws_handshake error with
 * status and location (redacted). A server frame that breaks RFC 6455 fails
 * the connection: kind protocol, protocol_violation = true, violation (what
 * it was), close_code 1002 (1007: a text message that is not UTF-8, which
 * never reaches Lua).
 */
#include "ws_conn.h"
#include "cassette.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WS_CONN_MT "glrun.ws.conn"

typedef struct { ws_conn *c; } ws_ud;

static void timer_closed(uv_handle_t *h)
{
    ws_conn *c = h->data;
    c->timers_open--;
    ws_conn_maybe_free(c);
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
    uint64_t now = uv_now(c->loop);

    if (c->state == ST_CONNECTING) {
        if (c->hs_sent)
            ws_conn_fail(c, "timeout", "WebSocket handshake to %s timed out after %g s: the "
                      "server took the upgrade request but never completed its response",
                      c->url_redacted, c->timeout);
        else
            ws_conn_fail(c, "timeout", "WebSocket connect to %s timed out after %g s",
                      c->url_redacted, c->timeout);
        ws_conn_kill(c);
        return;
    }
    if (c->state != ST_OPEN)
        return;
    if (c->idle_timeout > 0 && now - c->last_rx >= (uint64_t)(c->idle_timeout * 1000)) {
        ws_conn_fail(c, "timeout", "WebSocket %s idle for %g s (idle_timeout)",
                  c->url_redacted, c->idle_timeout);
        ws_conn_kill(c);
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
        c->last_ping = uv_now(c->loop);
        uv_timer_start(&c->t_misc, misc_timer_cb, ms, ms);
    }
}

/* ---- Lua side ---------------------------------------------------------- */

/* For the methods (send, recv, stats): upvalue 1 is the metatable, so the
 * type check is a pointer compare, not a registry lookup by name (which
 * cost a third of a recv); upvalues 2 and 3 are the strings "text" and
 * "binary". */
static ws_conn *check_conn(lua_State *L, int open_required)
{
    ws_ud *ud = lua_touserdata(L, 1);
    int ok = ud && lua_getmetatable(L, 1);
    if (ok) {
        ok = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
    }
    if (!ok) ud = luaL_checkudata(L, 1, WS_CONN_MT);   /* raises the usual error */
    if (!ud->c || (open_required && ud->c->state == ST_CLOSED))
        gl_closed(L, "ws.conn");
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
        if (c->location) {
            lua_pushstring(L, c->location);
            lua_setfield(L, e, "location");
        }
    }
    if (c->violation) {      /* kind "protocol": the server broke RFC 6455 */
        lua_pushboolean(L, 1);
        lua_setfield(L, e, "protocol_violation");
        lua_pushstring(L, c->violation);
        lua_setfield(L, e, "violation");
        lua_pushinteger(L, c->close_code);
        lua_setfield(L, e, "close_code");
    }
    if (!strcmp(c->err_kind, "ws_closed")) {
        lua_pushinteger(L, c->close_code);
        lua_setfield(L, e, "close_code");
        lua_pushstring(L, c->close_reason ? c->close_reason : "");
        lua_setfield(L, e, "reason");
    }
    return 2;
}

/* ---- handshakes in flight ------------------------------------------------
 * libwebsockets 4.1 keeps every pending timeout in one sorted list, so
 * starting thousands of handshakes at once makes each insert slower than
 * the last. At most MAX_HANDSHAKES run at a time; the others wait their
 * turn in order (a connect's own timeout still counts from its start). */
#define MAX_HANDSHAKES 256
static int hs_running;
static ws_conn *hs_head, *hs_tail;

static void hs_grant_next(void)
{
    while (hs_head && hs_running < MAX_HANDSHAKES) {
        ws_conn *n = hs_head;
        hs_head = n->hs_next;
        if (!hs_head) hs_tail = NULL;
        n->hs_next = NULL;
        n->hs_waiting = 0;
        if (n->state != ST_CONNECTING) continue;
        n->hs_slot = 1;
        hs_running++;
        gl_wake(&n->w_conn);
    }
}

/* The handshake of c is over (open, failed or closed): free its slot. */
static void hs_release(ws_conn *c)
{
    if (c->hs_waiting) { /* leave the queue */
        ws_conn **pp = &hs_head, *prev = NULL;
        while (*pp && *pp != c) { prev = *pp; pp = &(*pp)->hs_next; }
        if (*pp) { *pp = c->hs_next; if (hs_tail == c) hs_tail = prev; }
        c->hs_waiting = 0;
        c->hs_next = NULL;
    }
    if (c->hs_slot) {
        c->hs_slot = 0;
        hs_running--;
        hs_grant_next();
    }
}

/* Take a slot now, or queue for one. Returns 1 when c may start. */
static int hs_acquire(ws_conn *c)
{
    if (c->hs_slot) return 1;
    if (hs_running < MAX_HANDSHAKES && !hs_head) {
        c->hs_slot = 1;
        hs_running++;
        return 1;
    }
    if (!c->hs_waiting) {
        c->hs_waiting = 1;
        if (hs_tail) hs_tail->hs_next = c; else hs_head = c;
        hs_tail = c;
    }
    return 0;
}

/* Close the Lua side: stop timers, wake waiters, ask lws to close. */
static void conn_close(ws_conn *c, int code, const char *reason, size_t rlen)
{
    if (c->state == ST_CLOSED)
        return;
    hs_release(c);
    if (c->wsi && c->state == ST_OPEN) {
        c->close_req = 1;
        c->close_req_code = code;
        c->close_req_len = rlen > 123 ? 123 : rlen;
        memcpy(c->close_req_reason, reason, c->close_req_len);
        lws_callback_on_writable(c->wsi);
        /* the flush and the close handshake get a bounded time */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 10);
    } else {
        ws_conn_kill(c);
    }
    c->state = ST_CLOSED;
    c->local_code = code;
    /* the script closed it (a no-op when the session had already ended) */
    gl_tap_field(c->tap, "closed_by", "client");
    gl_tap_end(c->tap, 0, NULL, NULL, code, NULL, 0);
    if (c->timers_open == 3) {
        uv_close((uv_handle_t *)&c->t_recv, timer_closed);
        uv_close((uv_handle_t *)&c->t_misc, timer_closed);
        uv_close((uv_handle_t *)&c->p_flow, timer_closed);
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
            ws_conn_fail(c, "dns", "WebSocket connect to %s failed: cannot resolve %s (%s)",
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
    ws_conn_maybe_free(c);
}

static int connect_k(lua_State *L, int status, lua_KContext ctx)
{
    ws_conn *c = (ws_conn *)ctx;
    (void)status;
    for (;;) {
        if (c->state == ST_OPEN) {
            hs_release(c);
            uv_timer_stop(&c->t_misc);
            if (c->play) ws_play_schedule(c);
            else start_misc_tick(c);
            lua_pushvalue(L, 2);
            return 1;
        }
        if (c->state != ST_CONNECTING) {
            hs_release(c);
            int n = push_error(L, c);
            conn_close(c, 1000, "", 0);
            return n;
        }
        if (c->phase == PH_DNS_DONE) {
            char err[256];
            if (!hs_acquire(c)) return gl_yield(L, &c->w_conn, ctx, connect_k);
            struct lws_vhost *vh = ws_lws_vhost(c->proxy, c->u.tls, err, sizeof err);
            if (!vh) { ws_conn_fail(c, "connect", "%s", err); continue; }
            ws_lws_start(c, vh);
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
    c->loop = gl_loop(L);
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
    if (strchr(c->proxy, '@'))            /* proxy credentials never reach a log */
        gl_secret_add(c->proxy, (size_t)(strrchr(c->proxy, '@') - c->proxy));

    uv_timer_init(gl_loop(L), &c->t_recv);
    uv_timer_init(gl_loop(L), &c->t_misc);
    uv_prepare_init(gl_loop(L), &c->p_flow);
    c->t_recv.data = c->t_misc.data = c->p_flow.data = c;
    c->timers_open = 3;
    { /* --trace and --record: the tap */
        gl_buf b = {0};
        if (c->proxy[0]) {
            gl_buf_adds(&b, ",\"proxy\":");
            gl_buf_json_str(&b, ws_proxy_shown(c), strlen(ws_proxy_shown(c)));
        }
        c->tap = gl_tap_begin(GL_TAP_WS, "GET", url, NULL, NULL, 0, b.p);
        gl_buf_free(&b);
    }

    if (gl_cassette_replaying()) { /* no socket: the recorded session */
        ws_play_connect(L, c, url);
        return connect_k(L, LUA_OK, (lua_KContext)c);
    }
    if (!gl_lws_load(err, sizeof err)) {   /* libwebsockets is opened on first use */
        ws_conn_fail(c, "unsupported", "%s", err);
        return connect_k(L, LUA_OK, (lua_KContext)c);
    }
    if (!ws_lws_context(c->loop, err, sizeof err)) {
        ws_conn_fail(c, "connect", "%s", err);
        return connect_k(L, LUA_OK, (lua_KContext)c);
    }
    if (c->timeout > 0)
        uv_timer_start(&c->t_misc, misc_timer_cb, (uint64_t)(c->timeout * 1000), 0);
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
                ws_conn_fail(c, "dns", "WebSocket connect to %s failed: cannot resolve %s",
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
    if (c->play) { /* --replay: nothing goes out; the send may release recorded messages */
        gl_tap_data(c->tap, GL_TAP_SEND, binary, data, len);
        if (!ws_play_sent(L, c, data, len)) return push_error(L, c);
        c->msgs_out++;
        c->bytes_out += len;
        lua_pushboolean(L, 1);
        return 1;
    }
    m = malloc(sizeof *m + LWS_PRE + len + 1);   /* one block: lws's headroom, the bytes */
    if (!m) return luaL_error(L, "out of memory");
    memset(m, 0, sizeof *m);
    m->data = m->inl + LWS_PRE;
    memcpy(m->data, data, len);
    m->len = len;
    m->binary = binary;
    gl_tap_data(c->tap, GL_TAP_SEND, binary, (const char *)m->data, len);
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
    lua_pushvalue(L, lua_upvalueindex(m->binary ? 3 : 2));   /* see check_conn */
    free(m->buf);
    free(m);
    if (c->rx_paused && c->in_count <= c->queue_max / 2 && c->in_bytes <= c->queue_bytes_max / 2) {
        c->rx_paused = 0;
        if (c->wsi) lws_rx_flow_control(c->wsi, 1);
        else ws_play_schedule(c);
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
    if (c->play && c->state == ST_OPEN && !ws_play_recv(L, c)) return push_error(L, c);
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
    luaL_argcheck(L, ws_close_code_valid(code), 2, "invalid close code");
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
        ws_conn_maybe_free(c);
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
    lua_createtable(L, 0, 14);
#define SETI(name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETI("in_messages", c->in_count);
    SETI("in_bytes", c->in_bytes);
    SETI("in_bytes_max", c->in_hiwater);
    SETI("in_partial_bytes", c->frag.buf.len);
    SETI("out_messages", c->out_count);
    SETI("out_bytes", c->out_bytes);
    SETI("received", c->msgs_in);
    SETI("sent", c->msgs_out);
    SETI("bytes_received", c->bytes_in);
    SETI("bytes_sent", c->bytes_out);
    SETI("queue", c->queue_max);
    SETI("queue_bytes", c->queue_bytes_max);
    SETI("pauses", c->rx_pauses);
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

/* The registry sentinel: starts the lws teardown when the Lua state
 * closes, after every connection's own __gc (created first, finalised last). */
static int ws_lib_gc(lua_State *L)
{
    (void)L;
    ws_lws_teardown();
    return 0;
}

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
        lua_createtable(L, 0, sizeof conn_methods / sizeof conn_methods[0] - 1);
        lua_pushvalue(L, -2);               /* upvalues: see check_conn */
        lua_pushliteral(L, "text");
        lua_pushliteral(L, "binary");
        luaL_setfuncs(L, conn_methods, 3);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_newlib(L, ws_funcs);
    lua_pushinteger(L, WS_FRAG);
    lua_setfield(L, -2, "FRAME_SIZE");
    return 1;
}
