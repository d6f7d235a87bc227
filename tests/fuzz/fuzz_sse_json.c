/*
 * fuzz_sse_json.c — the path network bytes take into Lua: the SSE parser,
 * then each event's data decoded by lua-cjson into Lua values (what
 * http.sse does for every event), then the value walked the way the client
 * reads a GenerateContentResponse. Any crash, leak or sanitizer report is
 * a bug; malformed JSON must come back as an error, never as a crash.
 */
#include "gl.h"
#include "sse.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cjson(lua_State *L);
static lua_State *L;

/* walk a decoded value to a bounded depth, touching every string */
static size_t walk(lua_State *S, int idx, int depth) {
    size_t n = 0;
    if (depth > 64) return 0;
    idx = lua_absindex(S, idx);
    if (lua_type(S, idx) == LUA_TSTRING) return lua_rawlen(S, idx);
    if (lua_type(S, idx) != LUA_TTABLE) return 1;
    lua_pushnil(S);
    while (lua_next(S, idx)) {
        n += walk(S, -1, depth + 1);
        lua_pop(S, 1);
    }
    return n;
}

static int on_event(void *ud, const sse_event *ev) {
    (void)ud;
    char err[256];
    int top = lua_gettop(L);
    if (gl_json_decode(L, ev->data, ev->data_len, err, sizeof err)) {
        walk(L, -1, 0);
        if (lua_istable(L, -1)) { /* candidates[1].content.parts */
            lua_getfield(L, -1, "candidates");
            if (lua_istable(L, -1)) {
                lua_rawgeti(L, -1, 1);
                if (lua_istable(L, -1)) lua_getfield(L, -1, "content");
            }
        }
    } else if (err[0] == 0) {
        abort(); /* a failure must say what is wrong */
    }
    lua_settop(L, top);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_requiref(L, "cjson", luaopen_cjson, 0);
        lua_pop(L, 1);
    }
    sse_parser p;
    sse_init(&p, 1 << 20);
    size_t half = size / 2;
    sse_feed(&p, (const char *)data, half, on_event, NULL, NULL);
    sse_feed(&p, (const char *)data + half, size - half, on_event, NULL, NULL);
    sse_finish(&p);
    size_t rawlen;
    const char *raw = sse_raw(&p, &rawlen);
    if (raw && rawlen) { /* a raw JSON error in the stream is decoded too */
        char err[256];
        int top = lua_gettop(L);
        if (gl_json_decode(L, raw, rawlen, err, sizeof err)) walk(L, -1, 0);
        lua_settop(L, top);
    }
    sse_free(&p);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
