/*
 * error.c — error objects: tables {kind=, message=, ...} with the
 * glrun.error metatable (readable __tostring); messages are redacted.
 */
#include "gl.h"

#include <stdarg.h>
#include <stdlib.h>

static const char ERROR_MT[] = "glrun.error";

static int error_tostring(lua_State *L) {
    lua_getfield(L, 1, "message");
    lua_getfield(L, 1, "kind");
    const char *msg = lua_tostring(L, -2);
    const char *kind = lua_tostring(L, -1);
    lua_pushfstring(L, "%s: %s", kind ? kind : "error", msg ? msg : "(no message)");
    return 1;
}

static void error_mt(lua_State *L) {
    if (luaL_newmetatable(L, ERROR_MT)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushstring(L, "glrun.error");
        lua_setfield(L, -2, "__name");
    }
}

static int error_newv(lua_State *L, const char *kind, const char *fmt, va_list ap) {
    size_t n;
    char *r = gl_redact_vfmt(4095, &n, fmt, ap);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, kind);
    lua_setfield(L, -2, "kind");
    lua_pushlstring(L, r, n);
    lua_setfield(L, -2, "message");
    free(r);
    error_mt(L);
    lua_setmetatable(L, -2);
    return lua_gettop(L);
}

int gl_error_new(lua_State *L, const char *kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int idx = error_newv(L, kind, fmt, ap);
    va_end(ap);
    return idx;
}

int gl_fail(lua_State *L, const char *kind, const char *fmt, ...) {
    lua_pushnil(L);
    va_list ap;
    va_start(ap, fmt);
    error_newv(L, kind, fmt, ap);
    va_end(ap);
    return 2;
}

int gl_closed(lua_State *L, const char *what) { return luaL_error(L, "attempt to use a closed %s", what); }

int gl_is_error(lua_State *L, int idx) {
    int r = 0;
    if (lua_getmetatable(L, idx)) {
        luaL_getmetatable(L, ERROR_MT);
        r = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    return r;
}
