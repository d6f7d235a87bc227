/*
 * ws_play.c — WebSocket sessions under `glrun --replay DIR`: a ws_conn
 * with no socket, fed from the session `glrun --record` wrote.
 *
 * The connection is the live one (ws.c): recorded server messages enter
 * through ws_deliver(), the same queue, backpressure and waiters as frames
 * from libwebsockets, and the session ends through ws_conn_fail() with the
 * recorded error (close code, reason), so a replayed session gives the
 * script the same values and errors as the live one. Timing is uv timers
 * (t_misc), never polling: a server message recorded after the client's
 * k-th message is due once the script has sent k messages, at the recorded
 * distance after that send (or at its recorded time, if later).
 *
 * Matching is glrun.cassette's (peek_ws at connect, take_ws with the first
 * message the script sends, or with none when it reads first).
 */
#include "ws_conn.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int send, binary;
    double t; /* seconds after the connect */
    char *data;
    size_t len;
} play_ev;

struct ws_play {
    char *url; /* as the script gave it: cassette matching */
    int bound;
    play_ev *ev;
    size_t nev, next;       /* next: first event not delivered yet */
    unsigned sent;          /* messages the script sent */
    uint64_t t0, last_send; /* uv_now (ms) */
    double end_t;           /* the session's recorded end */
    char *error, *error_kind, *reason;
    int close_code;
};

static void str_field(lua_State *L, int t, const char *k, char **out) {
    lua_getfield(L, t, k);
    if (lua_type(L, -1) == LUA_TSTRING) *out = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
}

static double num_field(lua_State *L, int t, const char *k, double def) {
    lua_getfield(L, t, k);
    double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : def;
    lua_pop(L, 1);
    return v;
}

/* Push cassette[fn](url [, first]): the exchange, or nil and a message. */
static int cassette_call(lua_State *L, const char *fn, const char *url, const char *first, size_t flen) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "glrun.cassette");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_pushstring(L, url);
    if (first)
        lua_pushlstring(L, first, flen);
    else
        lua_pushnil(L);
    lua_call(L, 2, 2);
    if (lua_istable(L, -2)) {
        lua_pop(L, 1);
        return 1;
    }
    lua_remove(L, -2);
    return 0;
}

static void fail_recorded(ws_conn *c, struct ws_play *p, const char *fallback_kind) {
    c->close_code = p->close_code;
    free(c->close_reason);
    c->close_reason = p->reason ? strdup(p->reason) : NULL;
    ws_conn_fail(c, p->error_kind ? p->error_kind : fallback_kind, "%s",
                 p->error ? p->error : "the recorded session ended");
}

static void read_end(lua_State *L, int ex, struct ws_play *p) {
    free(p->error);
    free(p->error_kind);
    free(p->reason);
    p->error = p->error_kind = p->reason = NULL;
    str_field(L, ex, "error", &p->error);
    str_field(L, ex, "error_kind", &p->error_kind);
    str_field(L, ex, "reason", &p->reason);
    p->close_code = (int)num_field(L, ex, "close_code", 0);
    p->end_t = num_field(L, ex, "t", 0);
}

/* ---- connect: the recorded handshake, at its recorded time ------------- */

static void handshake_cb(uv_timer_t *t) {
    ws_conn *c = t->data;
    struct ws_play *p = c->play;
    if (c->state != ST_CONNECTING) return;
    if (c->err_status) { /* the handshake failed when recorded */
        gl_tap_response(c->tap, c->err_status, NULL, 0);
        fail_recorded(c, p, "connect");
        return;
    }
    c->state = ST_OPEN;
    c->last_rx = uv_now(c->loop);
    gl_tap_response(c->tap, 101, NULL, 0);
    gl_wake(&c->w_conn);
}

void ws_play_connect(lua_State *L, ws_conn *c, const char *url) {
    struct ws_play *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url))) {
        free(p);
        ws_conn_fail(c, "replay", "out of memory");
        return;
    }
    c->play = p;
    c->phase = PH_PLAY;
    p->t0 = uv_now(c->loop);
    if (!cassette_call(L, "peek_ws", url, NULL, 0)) {
        ws_conn_fail(c, "replay", "replay: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return;
    }
    int ex = lua_gettop(L);
    double resp_t = num_field(L, ex, "t", 0);
    long status = 0;
    lua_getfield(L, ex, "response");
    if (lua_istable(L, -1)) {
        resp_t = num_field(L, -1, "t", resp_t);
        status = (long)num_field(L, -1, "status", 0);
    }
    lua_pop(L, 1);
    if (status != 101) { /* served now: the recorded failure is the answer */
        read_end(L, ex, p);
        c->err_status = (int)status;
        lua_getglobal(L, "require");
        lua_pushliteral(L, "glrun.cassette");
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "use");
        lua_pushvalue(L, ex);
        lua_call(L, 1, 0);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    uv_timer_start(&c->t_misc, handshake_cb, resp_t > 0 ? (uint64_t)(resp_t * 1000 + 0.5) : 0, 0);
}

/* ---- the session: which recorded session is known at the first message - */

static int play_bind(lua_State *L, ws_conn *c, const char *first, size_t flen) {
    struct ws_play *p = c->play;
    if (p->bound) return 1;
    if (!cassette_call(L, "take_ws", p->url, first, flen)) {
        ws_conn_fail(c, "replay", "replay: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    int ex = lua_gettop(L);
    read_end(L, ex, p);
    lua_getfield(L, ex, "events");
    size_t n = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    p->ev = calloc(n ? n : 1, sizeof *p->ev);
    if (!p->ev) luaL_error(L, "out of memory");
    for (size_t i = 0; i < n; i++) {
        play_ev *e = &p->ev[p->nev];
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        lua_getfield(L, -1, "dir");
        e->send = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "send") == 0;
        lua_pop(L, 1);
        lua_getfield(L, -1, "type");
        e->binary = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "binary") == 0;
        lua_pop(L, 1);
        e->t = num_field(L, -1, "t", 0);
        lua_getfield(L, -1, "bytes");
        const char *s = lua_tolstring(L, -1, &e->len);
        if (s && (e->data = malloc(e->len + 1))) {
            memcpy(e->data, s, e->len);
            p->nev++;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 2);
    p->bound = 1;
    ws_play_schedule(c);
    return 1;
}

static void due_cb(uv_timer_t *t);

/* Arm the timer for what comes next: the next server message once the
 * sends it follows are made, or the recorded end. */
void ws_play_schedule(ws_conn *c) {
    struct ws_play *p = c->play;
    if (!p || !p->bound || c->state != ST_OPEN || c->rx_paused) return;
    unsigned gates = 0;
    double gate_t = 0, due;
    size_t j;
    for (j = 0; j < p->nev; j++) {
        if (p->ev[j].send) {
            gates++;
            gate_t = p->ev[j].t;
        } else if (j >= p->next)
            break;
    }
    if (j < p->nev) {
        if (p->sent < gates) {
            uv_timer_stop(&c->t_misc);
            return;
        } /* a send releases it */
        due = (double)p->t0 + p->ev[j].t * 1000;
        if (gates > 0 && p->sent == gates) {
            double after = (double)p->last_send + (p->ev[j].t - gate_t) * 1000;
            if (after > due) due = after;
        }
    } else {
        /* the end, like a message, waits for the sends recorded before it
         * (an injected close mid-turn must come after the turn was sent) */
        if (p->sent < gates) {
            uv_timer_stop(&c->t_misc);
            return;
        }
        due = (double)p->t0 + p->end_t * 1000;
        if (gates > 0) {
            double after = (double)p->last_send + (p->end_t - gate_t) * 1000;
            if (after > due) due = after;
        }
    }
    double now = (double)uv_now(c->loop);
    uv_timer_start(&c->t_misc, due_cb, due > now ? (uint64_t)(due - now + 0.5) : 0, 0);
}

static void due_cb(uv_timer_t *t) {
    ws_conn *c = t->data;
    struct ws_play *p = c->play;
    if (c->state != ST_OPEN) return;
    while (p->next < p->nev && p->ev[p->next].send) p->next++;
    if (p->next >= p->nev) { /* the session ends as it ended when recorded */
        if (p->error)
            fail_recorded(c, p, "ws_closed");
        else
            ws_conn_fail(c, "replay",
                         "replay: the recorded session has no more messages (the script closed "
                         "it at this point when it was recorded)");
        return;
    }
    play_ev *e = &p->ev[p->next++];
    unsigned char *data = (unsigned char *)e->data;
    e->data = NULL;
    c->last_rx = uv_now(c->loop);
    c->bytes_in += e->len;
    ws_deliver(c, data, e->len, e->binary);
    ws_play_schedule(c);
}

/* The script sent a message: it binds the session (the first one) and may
 * release the server messages recorded after it. */
int ws_play_sent(lua_State *L, ws_conn *c, const char *data, size_t len) {
    struct ws_play *p = c->play;
    if (!p->bound && !play_bind(L, c, data, len)) return 0;
    p->sent++;
    p->last_send = uv_now(c->loop);
    ws_play_schedule(c);
    return 1;
}

int ws_play_recv(lua_State *L, ws_conn *c) { return c->play->bound || play_bind(L, c, NULL, 0); }

void ws_play_free(struct ws_play *p) {
    if (!p) return;
    for (size_t i = 0; i < p->nev; i++) free(p->ev[i].data);
    free(p->ev);
    free(p->url);
    free(p->error);
    free(p->error_kind);
    free(p->reason);
    free(p);
}
