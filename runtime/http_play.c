/*
 * http_play.c — glrun.http under `glrun --replay DIR`: the recorded
 * exchange is served through the same callbacks curl would call
 * (http_io.c), at the recorded times, by a uv timer.
 */
#include "http_req.h"

#include <stdlib.h>
#include <string.h>

static void play_step(uv_timer_t *t);

static void play_at(http_req *r, double at) {
    double now = (uv_hrtime() - r->play_t0) / 1e9;
    double wait = at - now;
    uv_timer_start(r->play_timer, play_step, wait > 0 ? (uint64_t)(wait * 1000 + 0.5) : 0, 0);
}

static void play_finish(http_req *r, int result) {
    r->result = (CURLcode)result;
    gl_tap_end(r->tap, result, result ? r->errbuf : NULL, NULL, 0, NULL, r->status);
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
        if (now < r->play_resp_t) {
            play_at(r, r->play_resp_t);
            return;
        }
        const char *p = r->play_headers, *end = p + r->play_headers_len;
        while (p < end) { /* one header line at a time, as curl does */
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            size_t n = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);
            if (!(n <= 2 && (p[0] == '\r' || p[0] == '\n'))) http_header_cb((char *)p, 1, n, r);
            p += n;
        }
        http_header_cb("\r\n", 1, 2, r);
    }
    while (r->play_i < r->play_n) {
        struct play_ev *ev = &r->play[r->play_i];
        if (now < ev->t) {
            play_at(r, ev->t);
            return;
        }
        size_t rc = http_write_cb((char *)ev->p, 1, ev->len, r);
        if (rc == CURL_WRITEFUNC_PAUSE) return; /* resumed by resume() */
        if (rc != ev->len) {
            play_finish(r, CURLE_WRITE_ERROR);
            return;
        }
        r->play_i++;
    }
    if (now < r->play_end_t) {
        play_at(r, r->play_end_t);
        return;
    }
    play_finish(r, r->play_result);
}

/* Let a paused transfer go on (curl, or the cassette). */
void http_resume(http_req *r) {
    r->paused = 0;
    if (r->play_timer)
        uv_timer_start(r->play_timer, play_step, 0, 0);
    else if (r->easy)
        curl_easy_pause(r->easy, CURLPAUSE_CONT);
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
void http_play_start(lua_State *L, http_req *r, const char *method, const char *url, const char *body,
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

static void timer_free(uv_handle_t *h) { free(h); }

void http_play_release(http_req *r) {
    if (r->play_timer) uv_close((uv_handle_t *)r->play_timer, timer_free);
    r->play_timer = NULL;
    free(r->play);
    r->play = NULL;
    free(r->play_fail);
    r->play_fail = NULL;
}
