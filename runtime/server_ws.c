/*
 * server_ws.c — glrun.server's WebSocket side (RFC 6455, server role): the
 * 101 handshake, the frame parser for client frames (masked, fragmented,
 * control frames between fragments), reassembly through ws_reasm, close
 * handshake, and the Lua `ws` handle (send, recv([timeout]), close, state, stats),
 * shaped like glrun.ws client connections.
 *
 * Limits: a message over max_ws_message closes the connection with 1009
 * as soon as its size is known (a frame header); a text message that is
 * not UTF-8 with 1007; a protocol error with 1002. Received messages wait
 * in a queue; past SRV_WS_INQ_MAX bytes the socket is not read until the
 * handler catches up (backpressure on the client).
 */
#include "server.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SRV_WS_MT "glrun.server.ws"

typedef struct { srv_conn *c; } srv_ws_ud;

/* ---- handshake --------------------------------------------------------- */

void srv_ws_accept_key(const char *key, char out[32])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%.200s%s", key, guid);
    EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
    gl_b64_encode(out, md, mdlen, 0);
}

void srv_ws_free(srv_conn *c)
{
    srv_msg *m = c->in_head;
    while (m) {
        srv_msg *n = m->next;
        free(m->data);
        free(m);
        m = n;
    }
    c->in_head = c->in_tail = NULL;
    ws_reasm_free(&c->frag);
    free(c->close_reason);
    c->close_reason = NULL;
}

/* ---- frames ------------------------------------------------------------ */

int srv_ws_send_frame(srv_conn *c, int opcode, const void *p, size_t n)
{
    unsigned char hdr[10];
    size_t h = 2;
    int r;
    hdr[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) hdr[1] = (unsigned char)n;
    else if (n <= 0xffff) { hdr[1] = 126; hdr[2] = (unsigned char)(n >> 8); hdr[3] = (unsigned char)n; h = 4; }
    else {
        int i;
        hdr[1] = 127;
        for (i = 0; i < 8; i++) hdr[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        h = 10;
    }
    if (n < 4096) {          /* one write for small frames */
        unsigned char small[4096 + 10];
        memcpy(small, hdr, h);
        memcpy(small + h, p, n);
        r = srv_conn_send(c, small, h + n);
    } else {
        r = srv_conn_send(c, hdr, h);
        if (r == 0) r = srv_conn_send(c, p, n);
    }
    if (r == 0 && opcode <= 2) c->msgs_out++;
    return r;
}

static void send_close(srv_conn *c, int code, const char *reason, size_t rlen)
{
    unsigned char b[125] = {0};
    if (rlen > 123) rlen = 123;
    if (code == 1005 || code == 1006 || code == 0) { srv_ws_send_frame(c, 8, b, 0); return; }
    b[0] = (unsigned char)(code >> 8);
    b[1] = (unsigned char)code;
    memcpy(b + 2, reason, rlen);
    srv_ws_send_frame(c, 8, b, 2 + rlen);
}

static void on_close_timer(uv_timer_t *t)
{
    srv_conn_close(t->data);
}

/* We start the close handshake: the peer's answer or a timer ends it. */
void srv_ws_close(srv_conn *c, int code, const char *reason, size_t rlen)
{
    if (c->ws_state != WSS_OPEN || c->closing) return;
    send_close(c, code, reason, rlen);
    c->ws_state = WSS_CLOSING;
    if (!c->close_code) c->close_code = code;
    if (!c->closing) uv_timer_start(&c->timer, on_close_timer, 5000, 0);
    gl_wake(&c->w_recv);
}

/* The client broke the protocol or a limit: close with code, at once. */
static void ws_fail(srv_conn *c, int code, const char *why)
{
    gl_log(GL_LOG_DEBUG, "server", "%s: WebSocket closed %d: %s", c->peer, code, why);
    if (c->ws_state == WSS_OPEN) send_close(c, code, why, strlen(why));
    c->ws_state = WSS_CLOSED;
    c->ws_err = 1;
    c->close_code = code;
    free(c->close_reason);
    c->close_reason = strdup(why);
    srv_conn_close_after_flush(c);
    gl_wake(&c->w_recv);
}

static void deliver(srv_conn *c)
{
    size_t len;
    int binary;
    unsigned char *data = ws_reasm_take(&c->frag, &len, &binary);
    srv_msg *m = calloc(1, sizeof *m);
    if (!m) { free(data); ws_fail(c, 1011, "out of memory"); return; }
    m->data = data;
    m->len = len;
    m->binary = binary;
    if (c->in_tail) c->in_tail->next = m; else c->in_head = m;
    c->in_tail = m;
    c->in_count++;
    c->in_bytes += len;
    c->msgs_in++;
    if ((c->in_bytes >= SRV_WS_INQ_MAX || c->in_count >= 256) && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        c->rx_paused = 1;
    }
    gl_wake(&c->w_recv);
}

static void control_done(srv_conn *c)
{
    if (c->op == 9) {                      /* ping: pong with its payload */
        if (c->ws_state == WSS_OPEN) srv_ws_send_frame(c, 10, c->ctl, c->ctl_len);
    } else if (c->op == 8) {               /* close */
        int code = c->ctl_len >= 2 ? (c->ctl[0] << 8 | c->ctl[1]) : 1005;
        if (c->ctl_len == 1 || (c->ctl_len >= 2 && !ws_close_code_valid(code))) {
            ws_fail(c, 1002, "invalid close frame");       /* RFC 6455 5.5.1, 7.4 */
            return;
        }
        if (c->ctl_len > 2) {                /* the reason is UTF-8 */
            ws_reasm u;
            int st;
            memset(&u, 0, sizeof u);
            st = ws_reasm_feed(&u, c->ctl + 2, c->ctl_len - 2, 0, 1, sizeof c->ctl);
            ws_reasm_free(&u);
            if (st == WS_REASM_BAD_UTF8) { ws_fail(c, 1007, "invalid UTF-8 in the close reason"); return; }
        }
        c->peer_closed = 1;
        c->close_code = code;
        free(c->close_reason);
        c->close_reason = gl_redact(c->ctl_len > 2 ? (const char *)c->ctl + 2 : "",
                                    c->ctl_len > 2 ? c->ctl_len - 2 : 0, NULL);
        if (c->ws_state == WSS_OPEN) send_close(c, code, "", 0);   /* the echo */
        c->ws_state = WSS_CLOSED;
        srv_conn_close_after_flush(c);
        gl_wake(&c->w_recv);
    }
}

static int data_piece(srv_conn *c, const unsigned char *p, size_t n, int final)
{
    int st = ws_reasm_feed(&c->frag, p, n, c->msg_op == 2, final, c->l->max_ws_message);
    if (st == WS_REASM_TOO_BIG) { ws_fail(c, 1009, "message too big"); return -1; }
    if (st == WS_REASM_BAD_UTF8) { ws_fail(c, 1007, "invalid UTF-8"); return -1; }
    if (st == WS_REASM_DONE) deliver(c);
    return 0;
}

/* A frame header is complete: check it. */
static int header_done(srv_conn *c)
{
    unsigned char *h = c->fh;
    int len7 = h[1] & 0x7f;
    size_t i = 2;
    uint64_t len = (uint64_t)len7;
    c->fin = h[0] >> 7;
    c->op = h[0] & 0x0f;
    if (h[0] & 0x70) { ws_fail(c, 1002, "reserved bits set"); return -1; }
    if (!(h[1] & 0x80)) { ws_fail(c, 1002, "client frames must be masked"); return -1; }
    if (len7 == 126) { len = (uint64_t)h[2] << 8 | h[3]; i = 4; }
    else if (len7 == 127) {
        int k;
        for (len = 0, k = 0; k < 8; k++) len = len << 8 | h[2 + k];
        i = 10;
    }
    memcpy(c->mask, h + i, 4);
    c->mask_off = 0;
    c->pay_left = len;
    c->ctl_len = 0;
    if (c->op >= 8) {
        if (c->op > 10) { ws_fail(c, 1002, "reserved opcode"); return -1; }
        if (!c->fin || len > 125) { ws_fail(c, 1002, "bad control frame"); return -1; }
    } else {
        if (c->op > 2) { ws_fail(c, 1002, "reserved opcode"); return -1; }
        if (c->op == 0 && !c->frag.active) { ws_fail(c, 1002, "continuation of nothing"); return -1; }
        if (c->op != 0 && c->frag.active) { ws_fail(c, 1002, "new message inside a fragmented one"); return -1; }
        if (c->op != 0) c->msg_op = c->op;
        if (len > c->l->max_ws_message || c->frag.buf.len + len > c->l->max_ws_message) {
            ws_fail(c, 1009, "message too big");
            return -1;
        }
    }
    return 0;
}

void srv_ws_feed(srv_conn *c, unsigned char *p, size_t n)
{
    while (n > 0 && !c->closing && c->ws_state != WSS_CLOSED) {
        if (c->fh_need == 0) { c->fh_need = 2; c->fh_len = 0; }
        if (c->fh_len < c->fh_need) {
            size_t take = c->fh_need - c->fh_len;
            if (take > n) take = n;
            memcpy(c->fh + c->fh_len, p, take);
            c->fh_len += take;
            p += take;
            n -= take;
            if (c->fh_len == 2 && c->fh_need == 2) {
                int len7 = c->fh[1] & 0x7f;
                c->fh_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((c->fh[1] & 0x80) ? 4 : 0);
            }
            if (c->fh_len < c->fh_need) continue;
            if (header_done(c)) return;
            if (c->pay_left == 0) {
                c->fh_need = 0;
                if (c->op >= 8) control_done(c);
                else if (data_piece(c, (const unsigned char *)"", 0, c->fin)) return;
            }
            continue;
        }
        /* payload */
        {
            size_t take = c->pay_left < n ? (size_t)c->pay_left : n, i;
            for (i = 0; i < take; i++) p[i] ^= c->mask[(c->mask_off + i) & 3];
            c->mask_off = (unsigned)((c->mask_off + take) & 3);
            c->pay_left -= take;
            if (c->op >= 8) {
                memcpy(c->ctl + c->ctl_len, p, take);
                c->ctl_len += take;
            } else if (data_piece(c, p, take, c->fin && c->pay_left == 0)) {
                return;
            }
            p += take;
            n -= take;
            if (c->pay_left == 0) {
                c->fh_need = 0;
                if (c->op >= 8) control_done(c);
            }
        }
    }
}

/* ---- Lua handle -------------------------------------------------------- */

static srv_conn *check_ws(lua_State *L)
{
    srv_ws_ud *ud = luaL_checkudata(L, 1, SRV_WS_MT);
    if (!ud->c) gl_closed(L, "server.ws");
    return ud->c;
}

int srv_ws_push(lua_State *L, srv_conn *c)
{
    srv_ws_ud *ud = lua_newuserdatauv(L, sizeof *ud, 0);
    ud->c = NULL;
    luaL_setmetatable(L, SRV_WS_MT);
    ud->c = c;
    c->lua_refs++;
    return 1;
}

static int push_closed(lua_State *L, srv_conn *c)
{
    int e;
    lua_pushnil(L);
    if (c->peer_closed)
        e = gl_error_new(L, "closed", "WebSocket closed by the client: %d%s%s", c->close_code,
                         c->close_reason && *c->close_reason ? " " : "",
                         c->close_reason ? c->close_reason : "");
    else if (c->ws_err)
        e = gl_error_new(L, "closed", "WebSocket closed: %d %s", c->close_code,
                         c->close_reason ? c->close_reason : "");
    else if (c->ws_state == WSS_CLOSING)
        e = gl_error_new(L, "closed", "WebSocket closed by the server");
    else
        e = gl_error_new(L, "closed", "WebSocket dropped by the client without a close frame (%d)",
                         c->close_code ? c->close_code : 1006);
    lua_pushinteger(L, c->close_code ? c->close_code : 1006);
    lua_setfield(L, e, "code");
    lua_pushinteger(L, c->close_code ? c->close_code : 1006);
    lua_setfield(L, e, "close_code");
    lua_pushstring(L, c->close_reason ? c->close_reason : "");
    lua_setfield(L, e, "reason");
    return 2;
}

static int send_k(lua_State *L, int status, lua_KContext ctx)
{
    srv_conn *c = (srv_conn *)ctx;
    size_t len;
    const char *data = lua_tolstring(L, 2, &len);
    int binary = lua_toboolean(L, 4);
    (void)status;
    if (c->ws_state != WSS_OPEN || c->gone) return push_closed(L, c);
    if (c->out_pending > SRV_WBOUND) return gl_yield(L, &c->w_write, ctx, send_k);
    if (srv_ws_send_frame(c, binary ? 2 : 1, data, len) < 0) return push_closed(L, c);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_ws_send(lua_State *L)
{
    srv_conn *c = check_ws(L);
    static const char *const kinds[] = { "text", "binary", NULL };
    int binary;
    luaL_checkstring(L, 2);
    binary = luaL_checkoption(L, 3, "text", kinds);
    lua_settop(L, 3);
    lua_pushboolean(L, binary);
    if (c->w_write.task) return luaL_error(L, "another task is already sending on this server.ws");
    return send_k(L, LUA_OK, (lua_KContext)c);
}

static void on_recv_timer(uv_timer_t *t)
{
    srv_conn *c = t->data;
    c->recv_timed_out = 1;
    gl_wake(&c->w_recv);
}

static int recv_k(lua_State *L, int status, lua_KContext ctx)
{
    srv_conn *c = (srv_conn *)ctx;
    srv_msg *m = c->in_head;
    (void)status;
    if (c->recv_timer_on && (m || c->recv_timed_out || c->ws_state != WSS_OPEN || c->gone)) {
        c->recv_timer_on = 0;
        if (c->ws_state == WSS_OPEN && !c->closing) uv_timer_stop(&c->timer);
    }
    if (m) {
        c->in_head = m->next;
        if (!c->in_head) c->in_tail = NULL;
        c->in_count--;
        c->in_bytes -= m->len;
        lua_pushlstring(L, (const char *)m->data, m->len);
        lua_pushstring(L, m->binary ? "binary" : "text");
        free(m->data);
        free(m);
        if (c->rx_paused && c->in_bytes <= SRV_WS_INQ_MAX / 2 && c->in_count <= 128)
            srv_ws_resume_rx(c);
        return 2;
    }
    if (c->ws_state != WSS_OPEN || c->gone) return push_closed(L, c);
    if (c->recv_timed_out) {                 /* not sticky: the session goes on */
        c->recv_timed_out = 0;
        return gl_fail(L, "timeout", "no WebSocket message from the client within the timeout");
    }
    return gl_yield(L, &c->w_recv, ctx, recv_k);
}

static int l_ws_recv(lua_State *L)
{
    srv_conn *c = check_ws(L);
    double t = luaL_optnumber(L, 2, -1);
    if (c->w_recv.task) return luaL_error(L, "another task is already receiving on this server.ws");
    c->recv_timed_out = 0;
    if (t >= 0 && !c->in_head && c->ws_state == WSS_OPEN && !c->gone) {
        /* the connection's timer is free while the session is open */
        if (t == 0) c->recv_timed_out = 1;
        else {
            c->recv_timer_on = 1;
            uv_timer_start(&c->timer, on_recv_timer, (uint64_t)(t * 1000 + 0.5), 0);
        }
    }
    return recv_k(L, LUA_OK, (lua_KContext)c);
}

static int l_ws_close(lua_State *L)
{
    srv_ws_ud *ud = luaL_checkudata(L, 1, SRV_WS_MT);
    lua_Integer code = luaL_optinteger(L, 2, 1000);
    size_t rlen = 0;
    const char *reason = luaL_optlstring(L, 3, "", &rlen);
    luaL_argcheck(L, ws_close_code_valid(code), 2, "invalid close code");
    if (ud->c) srv_ws_close(ud->c, (int)code, reason, rlen);
    return 0;
}

static int l_ws_gc(lua_State *L)
{
    srv_ws_ud *ud = luaL_checkudata(L, 1, SRV_WS_MT);
    srv_conn *c = ud->c;
    if (c) {
        ud->c = NULL;
        srv_ws_close(c, 1001, "", 0);
        c->lua_refs--;
        srv_conn_maybe_free(c);
    }
    return 0;
}

static int l_ws_state(lua_State *L)
{
    srv_ws_ud *ud = luaL_checkudata(L, 1, SRV_WS_MT);
    lua_pushstring(L, ud->c && ud->c->ws_state == WSS_OPEN && !ud->c->gone ? "open" : "closed");
    return 1;
}

static int l_ws_stats(lua_State *L)
{
    srv_conn *c = check_ws(L);
    lua_createtable(L, 0, 6);
#define SETI(name, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, name))
    SETI("received", c->msgs_in);
    SETI("sent", c->msgs_out);
    SETI("in_messages", c->in_count);
    SETI("in_bytes", c->in_bytes);
    SETI("out_queued", c->out_pending);
    SETI("out_queued_max", c->out_max);
    SETI("bytes_sent", c->bytes_out);
#undef SETI
    lua_pushboolean(L, c->rx_paused);
    lua_setfield(L, -2, "paused");
    return 1;
}

static int l_ws_tostring(lua_State *L)
{
    srv_ws_ud *ud = luaL_checkudata(L, 1, SRV_WS_MT);
    if (!ud->c) lua_pushliteral(L, "server.ws (closed)");
    else lua_pushfstring(L, "server.ws (%s) %s", ud->c->ws_state == WSS_OPEN && !ud->c->gone ?
                         "open" : "closed", ud->c->peer);
    return 1;
}

static const luaL_Reg ws_methods[] = {
    { "send", l_ws_send },
    { "recv", l_ws_recv },
    { "close", l_ws_close },
    { "state", l_ws_state },
    { "stats", l_ws_stats },
    { NULL, NULL }
};

static const luaL_Reg ws_meta[] = {
    { "__index", NULL },
    { "__gc", l_ws_gc },
    { "__close", l_ws_gc },
    { "__tostring", l_ws_tostring },
    { NULL, NULL }
};

int luaopen_glrun_server_ws(lua_State *L)
{
    if (luaL_newmetatable(L, SRV_WS_MT)) {
        luaL_setfuncs(L, ws_meta, 0);
        luaL_newlib(L, ws_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    return 0;
}
