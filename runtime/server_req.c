/*
 * server_req.c — glrun.server's request handle: the request's fields (a
 * Lua table kept with the handle, so they stay readable after the answer),
 * headers and body, and the answer: complete (Content-Length), streamed
 * (chunked on HTTP/1.1, close-delimited on HTTP/1.0; write() yields while
 * more than SRV_WBOUND bytes are queued), or the WebSocket upgrade.
 *
 * A handle refers to one request of its connection (gen): once answered,
 * the connection may go on to the next request (keep-alive) and the old
 * handle only answers closed() and its fields.
 *
 * req:wait_closed() parks a task on the connection's w_close until the
 * client goes (srv_conn_close) or the request ends (srv_req_ended): the
 * socket is read while the handler works, so no task needs to poll.
 */
#include "server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REQ_MT "glrun.server.req"

typedef struct { srv_conn *c; unsigned gen; } req_ud;

/* ---- requests ---------------------------------------------------------- */

static req_ud *check_req(lua_State *L)
{
    req_ud *ud = luaL_checkudata(L, 1, REQ_MT);
    if (!ud->c) gl_closed(L, "server.req");
    return ud;
}

/* The request is still the connection's current one (not finished). */
static srv_conn *current(lua_State *L, req_ud *ud, const char *what)
{
    srv_conn *c = ud->c;
    if (ud->gen != c->gen || c->rstate == RS_DONE || c->phase == CP_WS)
        luaL_error(L, "req:%s(): the request is already finished", what);
    return c;
}

static int push_gone(lua_State *L)
{
    return gl_fail(L, "closed", "the client closed the connection");
}

int srv_req_push(lua_State *L, srv_conn *c)
{
    req_ud *ud;
    const char *u = c->url.p ? c->url.p : "", *q, *h;
    size_t ulen = c->url.len, plen;
    int i;

    ud = lua_newuserdatauv(L, sizeof *ud, 1);
    ud->c = NULL;
    luaL_setmetatable(L, REQ_MT);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, c->method);
    lua_setfield(L, -2, "method");
    /* absolute-form targets (a proxy's): keep the path part */
    if (ulen > 8 && (!strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8))) {
        const char *s = strchr(u + 8, '/');
        h = s ? s : u + ulen;
        ulen -= (size_t)(h - u);
        u = h;
    }
    q = memchr(u, '?', ulen);
    h = memchr(u, '#', ulen);
    plen = q ? (size_t)(q - u) : h ? (size_t)(h - u) : ulen;
    lua_pushlstring(L, u, plen);
    lua_setfield(L, -2, "path");
    if (q) lua_pushlstring(L, q + 1, (size_t)((h && h > q ? h : u + ulen) - q - 1));
    else lua_pushliteral(L, "");
    lua_setfield(L, -2, "query");
    lua_pushstring(L, c->peer);
    lua_setfield(L, -2, "peer");
    lua_pushboolean(L, c->is_ws);
    lua_setfield(L, -2, "websocket");
    lua_createtable(L, 0, c->nh);
    for (i = 0; i < c->nh; i++) {
        char name[256];
        size_t k;
        for (k = 0; c->hn[i][k] && k < sizeof name - 1; k++) name[k] = (char)tolower((unsigned char)c->hn[i][k]);
        name[k] = '\0';
        if (lua_getfield(L, -1, name) == LUA_TSTRING) {   /* repeated: joined */
            lua_pushliteral(L, ", ");
            lua_pushstring(L, c->hv[i]);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, c->hv[i]);
        }
        lua_setfield(L, -2, name);
    }
    lua_setfield(L, -2, "headers");
    lua_setiuservalue(L, -2, 1);
    ud->c = c;
    ud->gen = c->gen;
    c->lua_refs++;
    if (gl_log_enabled(GL_LOG_DEBUG) || gl_trace_on()) {
        size_t n;
        char *t = gl_redact(c->url.p ? c->url.p : "", c->url.len, &n);
        gl_log(GL_LOG_DEBUG, "server", "%s %s %.*s%s", c->peer, c->method, (int)(n > 300 ? 300 : n),
               t ? t : "", n > 300 ? "..." : "");
        if (gl_trace_on()) {
            gl_buf b = {0};
            gl_buf_adds(&b, ",\"method\":");
            gl_buf_json_str(&b, c->method, strlen(c->method));
            gl_buf_adds(&b, ",\"target\":");
            gl_buf_json_str(&b, t ? t : "", t ? n : 0);
            gl_buf_adds(&b, ",\"peer\":");
            gl_buf_json_str(&b, c->peer, strlen(c->peer));
            gl_trace_record("server_request", b.p);
            gl_buf_free(&b);
        }
        free(t);
    }
    return 1;
}

static int req_index(lua_State *L)
{
    /* methods first, then the request's fields */
    if (lua_getfield(L, lua_upvalueindex(1), luaL_checkstring(L, 2)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    lua_getiuservalue(L, 1, 1);
    if (!lua_istable(L, -1)) return 0;
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int l_req_header(lua_State *L)
{
    size_t n, i;
    const char *name;
    char low[256];
    luaL_checkudata(L, 1, REQ_MT);
    name = luaL_checklstring(L, 2, &n);
    if (n >= sizeof low) { lua_pushnil(L); return 1; }
    for (i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "headers");
    lua_getfield(L, -1, low);
    return 1;
}

static int l_req_headers(lua_State *L)
{
    luaL_checkudata(L, 1, REQ_MT);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "headers");
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {       /* a copy: the caller may change it */
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    return 1;
}

static int l_req_body(lua_State *L)
{
    req_ud *ud = check_req(L);
    srv_conn *c = ud->c;
    if (ud->gen != c->gen) return luaL_error(L, "req:body(): the request is already finished");
    lua_pushlstring(L, c->body.p ? c->body.p : "", c->body.len);
    return 1;
}

static int bad_header_text(const char *s, size_t n, int name)
{
    size_t i;
    if (name && n == 0) return 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r' || ch == '\n' || ch == 0) return 1;
        if (name && (ch <= ' ' || ch == ':' || ch >= 127)) return 1;
    }
    return 0;
}

static int has_token_close(const char *v)
{
    for (; v && *v; v++)
        if (!strncasecmp(v, "close", 5)) return 1;
    return 0;
}

static int l_req_respond(lua_State *L)
{
    req_ud *ud = check_req(L);
    srv_conn *c = current(L, ud, "respond");
    lua_Integer status = luaL_checkinteger(L, 2);
    int has_body = !lua_isnoneornil(L, 4), user_cl = 0, nobody;
    size_t blen = 0;
    const char *body = has_body ? luaL_checklstring(L, 4, &blen) : NULL;
    gl_buf b = {0};
    char line[128];

    /* 1xx are the server's own (100-continue, 101 for upgrade()) */
    luaL_argcheck(L, status >= 200 && status <= 599, 2, "an HTTP status 200..599");
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    if (c->rstate != RS_NONE) return luaL_error(L, "req:respond(): already answered");
    if (c->gone) { c->rstate = RS_DONE; return push_gone(L); }
    nobody = c->head_req || status == 204 || status == 304;
    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", (int)status, srv_status_text((int)status));
    gl_buf_adds(&b, line);
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            size_t kn, vn;
            const char *k, *v;
            if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)) {
                gl_buf_free(&b);
                return luaL_error(L, "req:respond(): headers must map names to strings");
            }
            k = lua_tolstring(L, -2, &kn);
            v = lua_tolstring(L, -1, &vn);
            if (bad_header_text(k, kn, 1) || bad_header_text(v, vn, 0)) {
                gl_buf_free(&b);
                return luaL_error(L, "req:respond(): invalid header %s", k);
            }
            if (!strcasecmp(k, "transfer-encoding") || (has_body && !strcasecmp(k, "content-length"))) {
                lua_pop(L, 1);
                continue;             /* ours to set */
            }
            if (!strcasecmp(k, "content-length")) user_cl = 1;
            if (!strcasecmp(k, "connection")) {
                if (has_token_close(v)) c->close_after = 1;
                lua_pop(L, 1);
                continue;
            }
            gl_buf_add(&b, k, kn);
            gl_buf_add(&b, ": ", 2);
            gl_buf_add(&b, v, vn);
            gl_buf_add(&b, "\r\n", 2);
            lua_pop(L, 1);
        }
    }
    if (has_body) {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n", blen);
        if (status != 204 && status != 304) gl_buf_adds(&b, line);
    } else if (!nobody && !user_cl) {
        if (c->p.http_major == 1 && c->p.http_minor >= 1) {
            c->chunked = 1;
            gl_buf_adds(&b, "Transfer-Encoding: chunked\r\n");
        } else {
            c->close_after = 1;       /* HTTP/1.0: the close ends the body */
        }
    }
    if (!c->keep_alive || c->l->closed || c->is_ws || c->p.upgrade) c->close_after = 1;
    if (c->close_after) gl_buf_adds(&b, "Connection: close\r\n");
    else if (c->p.http_minor == 0) gl_buf_adds(&b, "Connection: keep-alive\r\n");
    gl_buf_add(&b, "\r\n", 2);
    if (has_body && !nobody) gl_buf_add(&b, body, blen);
    c->rstate = has_body ? RS_DONE : RS_STREAM;
    c->head_req = c->head_req || nobody;    /* write() then sends nothing */
    if (gl_trace_on()) {
        snprintf(line, sizeof line, ",\"status\":%d,\"peer\":\"%s\",\"streamed\":%s", (int)status, c->peer,
                 has_body ? "false" : "true");
        gl_trace_record("server_response", line);
    }
    if (srv_conn_send(c, b.p, b.len) < 0) {
        gl_buf_free(&b);
        c->rstate = RS_DONE;
        return push_gone(L);
    }
    gl_buf_free(&b);
    if (has_body) srv_request_done(c);
    lua_pushboolean(L, 1);
    return 1;
}

static int write_k(lua_State *L, int status, lua_KContext ctx)
{
    srv_conn *c = (srv_conn *)ctx;
    (void)status;
    if (c->gone) return push_gone(L);
    if (c->out_pending > SRV_WBOUND) return gl_yield(L, &c->w_write, ctx, write_k);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_req_write(lua_State *L)
{
    req_ud *ud = check_req(L);
    srv_conn *c = current(L, ud, "write");
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (c->rstate != RS_STREAM) return luaL_error(L, "req:write(): call req:respond(status, headers) first");
    if (c->w_write.task) return luaL_error(L, "another task is already writing to this request");
    if (c->gone) return push_gone(L);
    if (n && !c->head_req) {
        if (c->chunked) {
            char hdr[24];
            int k = snprintf(hdr, sizeof hdr, "%zx\r\n", n);
            if (n <= 4096) {
                char small[4096 + 32];
                memcpy(small, hdr, (size_t)k);
                memcpy(small + k, s, n);
                memcpy(small + k + n, "\r\n", 2);
                if (srv_conn_send(c, small, (size_t)k + n + 2) < 0) return push_gone(L);
            } else if (srv_conn_send(c, hdr, (size_t)k) < 0 || srv_conn_send(c, s, n) < 0 ||
                       srv_conn_send(c, "\r\n", 2) < 0) {
                return push_gone(L);
            }
        } else if (srv_conn_send(c, s, n) < 0) {
            return push_gone(L);
        }
    }
    return write_k(L, LUA_OK, (lua_KContext)c);
}

static void finish(srv_conn *c)
{
    if (c->rstate == RS_NONE) {
        if (!c->gone) srv_conn_reply(c, 500, "the handler sent no response\n");
        c->rstate = RS_DONE;
        return;
    }
    if (c->rstate != RS_STREAM) return;
    if (c->chunked && !c->head_req) srv_conn_send(c, "0\r\n\r\n", 5);
    srv_request_done(c);
}

static int l_req_finish(lua_State *L)
{
    req_ud *ud = check_req(L);
    srv_conn *c = ud->c;
    if (ud->gen == c->gen && c->phase == CP_HANDLER) finish(c);
    return 0;
}

static int l_req_closed(lua_State *L)
{
    req_ud *ud = check_req(L);
    lua_pushboolean(L, ud->c->gone);
    return 1;
}

/* req:wait_closed([timeout]): wait, without polling, until the client goes
 * away while the request is open (true) or the request ends first (false:
 * answered, finished, upgraded); nil, {kind="timeout"} when timeout seconds
 * pass first. */
static int close_state(req_ud *ud)
{
    srv_conn *c = ud->c;
    if (ud->gen != c->gen) return 0;              /* a later request of the connection */
    if (c->gone) return !c->req_done;
    if (c->req_done || c->rstate == RS_DONE || c->phase != CP_HANDLER) return 0;
    return -1;
}

static void on_close_timer(uv_timer_t *t)
{
    srv_conn *c = t->data;
    if (!c->close_timer_on) return;
    c->close_timer_on = 0;
    c->close_timed_out = 1;
    gl_wake(&c->w_close);
}

static int wait_closed_k(lua_State *L, int status, lua_KContext ctx)
{
    req_ud *ud = check_req(L);
    srv_conn *c = ud->c;
    int st = close_state(ud);
    (void)status;
    (void)ctx;
    if (st >= 0 || c->close_timed_out) {
        if (c->close_timer_on) {                  /* ours still: the request is open */
            c->close_timer_on = 0;
            if (!c->closing) uv_timer_stop(&c->timer);
        }
        c->close_timed_out = 0;
        if (st >= 0) {
            lua_pushboolean(L, st);
            return 1;
        }
        return gl_fail(L, "timeout", "the client is still there and the request still open after the timeout");
    }
    return gl_yield(L, &c->w_close, 0, wait_closed_k);
}

static int l_req_wait_closed(lua_State *L)
{
    req_ud *ud = check_req(L);
    srv_conn *c = ud->c;
    double t = -1;
    if (!lua_isnoneornil(L, 2)) {
        t = luaL_checknumber(L, 2);
        luaL_argcheck(L, t >= 0, 2, "a timeout in seconds (>= 0) or nil");
    }
    lua_settop(L, 1);
    if (c->w_close.task) return luaL_error(L, "another task is already waiting on this request");
    if (close_state(ud) >= 0) return wait_closed_k(L, LUA_OK, 0);
    if (c->close_timer_on) {                      /* left by a wait that was interrupted */
        c->close_timer_on = 0;
        uv_timer_stop(&c->timer);
    }
    c->close_timed_out = t == 0;
    if (t > 0 && t < 1e9) {
        c->close_timer_on = 1;
        uv_timer_start(&c->timer, on_close_timer, (uint64_t)(t * 1000 + 0.5), 0);
    }
    return wait_closed_k(L, LUA_OK, 0);
}

static int l_req_upgrade(lua_State *L)
{
    req_ud *ud = check_req(L);
    srv_conn *c = current(L, ud, "upgrade");
    const char *proto = luaL_optstring(L, 2, NULL), *key;
    char accept[32];
    gl_buf b = {0}, st;
    if (!c->is_ws) return luaL_error(L, "req:upgrade(): not a WebSocket upgrade request");
    if (c->rstate != RS_NONE) return luaL_error(L, "req:upgrade(): already answered");
    if (proto && bad_header_text(proto, strlen(proto), 0)) return luaL_error(L, "req:upgrade(): invalid protocol");
    if (c->gone) { c->rstate = RS_DONE; return push_gone(L); }
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "headers");
    lua_getfield(L, -1, "sec-websocket-key");
    key = lua_tostring(L, -1);
    srv_ws_accept_key(key ? key : "", accept);
    gl_buf_adds(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: ");
    gl_buf_adds(&b, accept);
    if (proto) {
        gl_buf_adds(&b, "\r\nSec-WebSocket-Protocol: ");
        gl_buf_adds(&b, proto);
    }
    gl_buf_adds(&b, "\r\n\r\n");
    c->rstate = RS_DONE;
    if (srv_conn_send(c, b.p, b.len) < 0) { gl_buf_free(&b); return push_gone(L); }
    gl_buf_free(&b);
    c->phase = CP_WS;
    c->ws_state = WSS_OPEN;
    srv_req_ended(c);
    uv_timer_stop(&c->timer);
    srv_ws_push(L, c);
    st = c->stash;                           /* frames that came with the request */
    memset(&c->stash, 0, sizeof c->stash);
    if (st.len) srv_ws_feed(c, (unsigned char *)st.p, st.len);
    gl_buf_free(&st);
    if (!c->rx_paused) srv_ws_resume_rx(c);
    return 1;
}

static int l_req_stats(lua_State *L)
{
    req_ud *ud = check_req(L);
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)ud->c->out_pending);
    lua_setfield(L, -2, "out_queued");
    lua_pushinteger(L, (lua_Integer)ud->c->out_max);
    lua_setfield(L, -2, "out_queued_max");
    lua_pushinteger(L, (lua_Integer)ud->c->bytes_out);
    lua_setfield(L, -2, "bytes_sent");
    return 1;
}

static int l_req_gc(lua_State *L)
{
    req_ud *ud = luaL_checkudata(L, 1, REQ_MT);
    srv_conn *c = ud->c;
    if (c) {
        ud->c = NULL;
        /* a wait_closed() of this request's (another task <close>d the
         * handle under it): it must not stay parked on memory freed soon */
        if (ud->gen == c->gen) gl_waiter_cancel(&c->w_close);
        if (ud->gen == c->gen && c->phase == CP_HANDLER && c->rstate != RS_DONE) {
            if (c->rstate == RS_NONE) finish(c);   /* 500: the handler never answered */
            else srv_conn_close(c);                /* a cut stream, not a complete one */
        }
        c->lua_refs--;
        srv_conn_maybe_free(c);
    }
    return 0;
}

static int l_req_tostring(lua_State *L)
{
    req_ud *ud = luaL_checkudata(L, 1, REQ_MT);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "method");
    lua_getfield(L, -2, "path");
    lua_pushfstring(L, "server.req (%s) %s %s", !ud->c ? "closed" :
                    ud->gen != ud->c->gen || ud->c->rstate == RS_DONE ? "finished" : "open",
                    lua_tostring(L, -2), lua_tostring(L, -1));
    return 1;
}


static const luaL_Reg req_methods[] = {
    { "header", l_req_header },
    { "headers", l_req_headers },
    { "body", l_req_body },
    { "respond", l_req_respond },
    { "write", l_req_write },
    { "finish", l_req_finish },
    { "closed", l_req_closed },
    { "wait_closed", l_req_wait_closed },
    { "upgrade", l_req_upgrade },
    { "stats", l_req_stats },
    { NULL, NULL }
};

static const luaL_Reg req_meta[] = {
    { "__gc", l_req_gc },
    { "__close", l_req_gc },
    { "__tostring", l_req_tostring },
    { NULL, NULL }
};

void srv_req_open(lua_State *L)
{
    if (luaL_newmetatable(L, REQ_MT)) {
        luaL_setfuncs(L, req_meta, 0);
        luaL_newlib(L, req_methods);
        lua_pushcclosure(L, req_index, 1);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
}
