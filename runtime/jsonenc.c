/*
 * jsonenc.c — Lua values to JSON text (contract in jsonenc.h).
 *
 * The text grows in one buffer kept between calls (as lua-cjson keeps its
 * own): nothing to free when an error unwinds, no allocation for the usual
 * request body. Encoding calls no Lua code (raw access only), so the buffer
 * is never in use twice at once.
 */
#define _GNU_SOURCE
#include "jsonenc.h"

#include <lauxlib.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1000
#define KEEP_MAX (1u << 20) /* a bigger buffer is freed after use */

static struct {
    char *p;
    size_t len, cap;
} buf;

static void need(lua_State *L, size_t n) {
    if (buf.cap - buf.len >= n) return;
    size_t cap = buf.cap ? buf.cap : 1024;
    while (cap - buf.len < n) cap *= 2;
    char *p = realloc(buf.p, cap);
    if (!p) luaL_error(L, "not enough memory");
    buf.p = p;
    buf.cap = cap;
}

static void add(lua_State *L, const char *s, size_t n) {
    need(L, n);
    memcpy(buf.p + buf.len, s, n);
    buf.len += n;
}

static void fail(lua_State *L, int idx, const char *why) {
    lua_pushfstring(L, "Cannot serialise %s: %s", luaL_typename(L, idx), why);
    lua_error(L);
}

/* lua-cjson's escapes: control characters, '"', '\\', '/' and DEL */
static const char *const esc[128] = {
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
    "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f",
    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ['"'] = "\\\"", ['/'] = "\\/", ['\\'] = "\\\\", [0x7f] = "\\u007f",
};

static void add_string(lua_State *L, const char *s, size_t n) {
    need(L, n * 6 + 2);
    char *o = buf.p + buf.len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = c < 128 ? esc[c] : NULL;
        if (!e) {
            *o++ = (char)c;
            continue;
        }
        size_t el = strlen(e);
        memcpy(o, e, el);
        o += el;
    }
    *o++ = '"';
    buf.len = (size_t)(o - buf.p);
}

static locale_t c_numeric;

static void add_number(lua_State *L, int idx) {
    char t[64];
    int n;
    if (lua_isinteger(L, idx)) {
        n = snprintf(t, sizeof t, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
    } else {
        double x = lua_tonumber(L, idx);
        if (isnan(x) || isinf(x)) fail(L, idx, "must not be NaN or Inf");
        if (!c_numeric) c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        locale_t old = c_numeric ? uselocale(c_numeric) : (locale_t)0;
        /* the fewest digits that read back as x: 14 (what lua-cjson
         * writes, and Lua's own tostring) when they are enough */
        for (int prec = 14;; prec++) {
            n = snprintf(t, sizeof t, "%.*g", prec, x);
            if (prec == 17 || strtod(t, NULL) == x) break;
        }
        if (old) uselocale(old);
    }
    add(L, t, (size_t)n);
}

static void add_value(lua_State *L, int depth);

/* lua-cjson's test: every key a number >= 1 with no fraction. Returns the
 * array length, 0 for an object (or an empty table). */
static lua_Integer array_length(lua_State *L) {
    lua_Integer max = 0, items = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            double k = lua_tonumber(L, -1);
            if (k >= 1 && floor(k) == k && k < 9.2e18) {
                if ((lua_Integer)k > max) max = (lua_Integer)k;
                items++;
                continue;
            }
        }
        lua_pop(L, 1);
        return 0;
    }
    if (max > items * 2 && max > 10) fail(L, -1, "excessively sparse array");
    return max;
}

static void add_table(lua_State *L, int depth) {
    if (depth > MAX_DEPTH || !lua_checkstack(L, 4)) luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);
    /* a table that fills itself on first read (gemini.rest.stream's lazy
     * chunk): its __materialize(t) first, so that all of it is written */
    if (luaL_getmetafield(L, -1, "__materialize") != LUA_TNIL) {
        lua_pushvalue(L, -2);
        lua_call(L, 1, 0);
    }
    lua_Integer n = array_length(L);
    if (n > 0) {
        add(L, "[", 1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1) add(L, ",", 1);
            lua_rawgeti(L, -1, i);
            add_value(L, depth);
            lua_pop(L, 1);
        }
        add(L, "]", 1);
        return;
    }
    add(L, "{", 1);
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (!first) add(L, ",", 1);
        first = 0;
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING) {
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            add_string(L, k, kl);
            add(L, ":", 1);
        } else if (kt == LUA_TNUMBER) {
            add(L, "\"", 1);
            add_number(L, -2);
            add(L, "\":", 2);
        } else {
            fail(L, -2, "table key must be a number or string");
        }
        add_value(L, depth);
        lua_pop(L, 1);
    }
    add(L, "}", 1);
}

/* the value on the top of the stack */
static void add_value(lua_State *L, int depth) {
    switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        add_string(L, s, n);
        break;
    }
    case LUA_TNUMBER: add_number(L, -1); break;
    case LUA_TBOOLEAN: lua_toboolean(L, -1) ? add(L, "true", 4) : add(L, "false", 5); break;
    case LUA_TTABLE: add_table(L, depth + 1); break;
    case LUA_TNIL: add(L, "null", 4); break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, -1) == NULL) {
            add(L, "null", 4);
            break;
        }
        /* fall through */
    default: fail(L, -1, "type not supported");
    }
}

void jsonenc_encode(lua_State *L, int idx) {
    lua_pushvalue(L, idx);
    buf.len = 0;
    add_value(L, 0);
    lua_pop(L, 1);
    lua_pushlstring(L, buf.p, buf.len);
    if (buf.cap > KEEP_MAX) {
        free(buf.p);
        buf.p = NULL;
        buf.cap = buf.len = 0;
    }
}
