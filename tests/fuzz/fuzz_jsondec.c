/*
 * fuzz_jsondec.c — runtime/jsondec.c decoded differentially against
 * lua-cjson 2.1.0 (the reference) and a strict RFC 8259 validator written
 * here independently (byte by byte, no tables, no SIMD):
 *
 *  - jsondec accepts exactly what the validator accepts (lua-cjson is laxer:
 *    leading zeros, hex, NaN, raw control characters, bad UTF-8, text after
 *    a NUL, so it cannot say what must fail);
 *  - when jsondec accepts, lua-cjson accepts too and both values are deep
 *    equal, except the one documented difference: where lua-cjson gives an
 *    integral float for a number written without fraction or exponent that
 *    fits in 64 bits, jsondec gives the integer of the same value (checked
 *    against the text of the number itself);
 *  - a failure says "invalid JSON at byte N: ..." with N within the input;
 *  - what jsondec accepts, jsonenc encodes, and jsondec reads the encoding
 *    back to the same value (float bits included; an integral float may
 *    come back as the integer of the same value). Only a value holding an
 *    infinity ("1e999") may fail to encode, and it must say so.
 * Any mismatch aborts with both sides printed.
 */
#include "jsondec.h"
#include "jsonenc.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cjson(lua_State *L);
static lua_State *L;

/* ---- the reference validator ------------------------------------------ */

typedef struct {
    const unsigned char *p, *end;
    int depth;
} val;

static int v_value(val *v);

static void v_ws(val *v) {
    while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r')) v->p++;
}

static int v_hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long v_u4(val *v) { /* after "\u" */
    if (v->end - v->p < 4) return -1;
    long x = 0;
    for (int i = 0; i < 4; i++) {
        int h = v_hex(v->p[i]);
        if (h < 0) return -1;
        x = x * 16 + h;
    }
    v->p += 4;
    return x;
}

static int v_string(val *v) { /* at the opening quote */
    v->p++;
    for (;;) {
        if (v->p >= v->end) return 0;
        unsigned c = *v->p;
        if (c == '"') {
            v->p++;
            return 1;
        }
        if (c < 0x20) return 0;
        if (c == '\\') {
            v->p++;
            if (v->p >= v->end) return 0;
            c = *v->p++;
            if (c == 'u') {
                long u = v_u4(v);
                if (u < 0) return 0;
                if (u >= 0xDC00 && u <= 0xDFFF) return 0; /* jsondec's contract: no lone surrogate */
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (v->end - v->p < 2 || v->p[0] != '\\' || v->p[1] != 'u') return 0;
                    v->p += 2;
                    long lo = v_u4(v);
                    if (lo < 0xDC00 || lo > 0xDFFF) return 0;
                }
            } else if (!strchr("\"\\/bfnrt", (int)c) || c == 0) {
                return 0;
            }
            continue;
        }
        if (c < 0x80) {
            v->p++;
            continue;
        }
        /* UTF-8: decode the code point, then reject overlong, surrogate, too big */
        int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (n == 0 || c >= 0xF8 || v->end - v->p < n) return 0;
        long cp = c & (0x7F >> n);
        for (int i = 1; i < n; i++) {
            if ((v->p[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (v->p[i] & 0x3F);
        }
        long min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        v->p += n;
    }
}

static int v_number_scan(val *v);

static int v_digits(val *v) {
    const unsigned char *s = v->p;
    while (v->p < v->end && *v->p >= '0' && *v->p <= '9') v->p++;
    return v->p > s;
}

static void check_number(const unsigned char *s, const unsigned char *e);

static int v_number(val *v) {
    const unsigned char *s = v->p;
    if (!v_number_scan(v)) return 0;
    check_number(s, v->p);
    return 1;
}

static int v_number_scan(val *v) {
    if (*v->p == '-') v->p++;
    if (v->p >= v->end) return 0;
    if (*v->p == '0') v->p++;
    else if (!v_digits(v)) return 0;
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (!v_digits(v)) return 0;
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-')) v->p++;
        if (!v_digits(v)) return 0;
    }
    return 1;
}

static int v_lit(val *v, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(v->end - v->p) < n || memcmp(v->p, w, n) != 0) return 0;
    v->p += n;
    return 1;
}

static int v_container(val *v, int obj) {
    if (++v->depth > JSONDEC_MAX_DEPTH) return 0;
    v->p++;
    v_ws(v);
    if (v->p < v->end && *v->p == (obj ? '}' : ']')) {
        v->p++;
        v->depth--;
        return 1;
    }
    for (;;) {
        if (obj) {
            if (v->p >= v->end || *v->p != '"' || !v_string(v)) return 0;
            v_ws(v);
            if (v->p >= v->end || *v->p != ':') return 0;
            v->p++;
            v_ws(v);
        }
        if (!v_value(v)) return 0;
        v_ws(v);
        if (v->p >= v->end) return 0;
        if (*v->p == ',') {
            v->p++;
            v_ws(v);
            continue;
        }
        if (*v->p != (obj ? '}' : ']')) return 0;
        v->p++;
        v->depth--;
        return 1;
    }
}

static int v_value(val *v) {
    if (v->p >= v->end) return 0;
    switch (*v->p) {
    case '{': return v_container(v, 1);
    case '[': return v_container(v, 0);
    case '"': return v_string(v);
    case 't': return v_lit(v, "true");
    case 'f': return v_lit(v, "false");
    case 'n': return v_lit(v, "null");
    default:
        if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9')) return v_number(v);
        return 0;
    }
}

static int validate(const uint8_t *data, size_t size) {
    val v = {data, data + size, 0};
    v_ws(&v);
    if (!v_value(&v)) return 0;
    v_ws(&v);
    return v.p == v.end;
}

/* ---- deep equality ----------------------------------------------------- */

static const char *why;

static int float_same(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* a (jsondec's) and b (the reference's) at absolute indices */
static int same(int a, int b, int depth) {
    int ta = lua_type(L, a), tb = lua_type(L, b);
    if (ta != tb) return why = "types differ", 0;
    switch (ta) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, a) && !lua_isinteger(L, b)) {
            /* the documented difference: the reference's float is the
             * integer rounded to a double (the integer itself is checked
             * against its text in check_number) */
            if (lua_tonumber(L, b) != (double)lua_tointeger(L, a)) return why = "integer vs float", 0;
            return 1;
        }
        if (lua_isinteger(L, a) != lua_isinteger(L, b)) return why = "number subtypes differ", 0;
        if (lua_isinteger(L, a)) return lua_tointeger(L, a) == lua_tointeger(L, b) || (why = "integers differ", 0);
        return float_same(lua_tonumber(L, a), lua_tonumber(L, b)) || (why = "floats differ", 0);
    case LUA_TSTRING: {
        size_t la, lb;
        const char *sa = lua_tolstring(L, a, &la), *sb = lua_tolstring(L, b, &lb);
        return (la == lb && memcmp(sa, sb, la) == 0) || (why = "strings differ", 0);
    }
    case LUA_TBOOLEAN: return lua_toboolean(L, a) == lua_toboolean(L, b) || (why = "booleans differ", 0);
    case LUA_TLIGHTUSERDATA: return (!lua_touserdata(L, a) && !lua_touserdata(L, b)) || (why = "not null", 0);
    case LUA_TTABLE: {
        if (depth > JSONDEC_MAX_DEPTH + 1) return why = "too deep", 0;
        if (!lua_checkstack(L, 8)) return why = "stack", 0;
        size_t na = 0, nb = 0;
        lua_pushnil(L);
        while (lua_next(L, a)) {
            na++;
            lua_pushvalue(L, -2);
            lua_rawget(L, b);
            int ok = !lua_isnil(L, -1) && same(lua_absindex(L, -2), lua_absindex(L, -1), depth + 1);
            lua_pop(L, 2);
            if (!ok) {
                lua_pop(L, 1);
                if (!why) why = "a key is missing";
                return 0;
            }
        }
        lua_pushnil(L);
        while (lua_next(L, b)) {
            nb++;
            lua_pop(L, 1);
        }
        return na == nb || (why = "key counts differ", 0);
    }
    default: return why = "unexpected type", 0;
    }
}

static void mismatch(const uint8_t *data, size_t size, const char *what) {
    fprintf(stderr, "fuzz_jsondec: %s (%s)\ninput (%zu bytes): ", what, why ? why : "-", size);
    fwrite(data, 1, size < 400 ? size : 400, stderr);
    fputc('\n', stderr);
    abort();
}

/* Each number token of a valid text, decoded alone: an integer exactly
 * when written without fraction or exponent, fitting in 64 bits and not
 * "-0" (classified here from the digits, valued by strtoll); otherwise a
 * float with strtod's bits. The structure check against lua-cjson then
 * covers the numbers in context. */
static void check_number(const unsigned char *s, const unsigned char *e) {
    char tok[512];
    size_t n = (size_t)(e - s);
    if (n >= sizeof tok) return; /* long mantissas: the unit tests */
    memcpy(tok, s, n);
    tok[n] = 0;
    int neg = tok[0] == '-';
    const char *dg = tok + neg;
    int integral = !strpbrk(tok, ".eE");
    size_t nd = strlen(dg);
    int fits = nd < 19 || (nd == 19 && strcmp(dg, neg ? "9223372036854775808" : "9223372036854775807") <= 0);
    int want_int = integral && fits && !(neg && strcmp(dg, "0") == 0);
    char err[200];
    int top = lua_gettop(L);
    if (!jsondec_decode(L, tok, n, err, sizeof err)) mismatch(s, n, "a valid number token does not decode alone");
    if (lua_isinteger(L, -1) != want_int) mismatch(s, n, want_int ? "integer text decoded as a float" : "float text decoded as an integer");
    if (want_int) {
        if (lua_tointeger(L, -1) != strtoll(tok, NULL, 10)) mismatch(s, n, "integer value differs from strtoll");
    } else if (!float_same(lua_tonumber(L, -1), strtod(tok, NULL))) {
        mismatch(s, n, "float value differs from strtod");
    }
    lua_settop(L, top);
}

static int encode_value(lua_State *S) {
    jsonenc_encode(S, 1);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        luaL_requiref(L, "cjson", luaopen_cjson, 0);
        lua_pop(L, 1);
    }
    lua_settop(L, 0);
    why = NULL;
    char err[200] = "";
    int mine = jsondec_decode(L, (const char *)data, size, err, sizeof err);
    int strict = validate(data, size);
    if (mine != strict) mismatch(data, size, mine ? "jsondec accepts what the validator rejects" : "jsondec rejects valid JSON");
    if (!mine) {
        unsigned long at = 0;
        if (lua_gettop(L) != 0) mismatch(data, size, "a failed decode left values on the stack");
        if (sscanf(err, "invalid JSON at byte %lu: ", &at) != 1 || at < 1 || at > size + 1 || !strchr(err, ':'))
            mismatch(data, size, err);
        return 0;
    }
    if (lua_gettop(L) != 1) mismatch(data, size, "decode pushed more than one value");

    /* the reference */
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    lua_getfield(L, -1, "decode");
    lua_remove(L, -2);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) mismatch(data, size, lua_tostring(L, -1));
    if (!same(1, 2, 0)) mismatch(data, size, "jsondec and lua-cjson differ");
    lua_settop(L, 1);

    /* encode and read back */
    lua_pushcfunction(L, encode_value);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        const char *e = lua_tostring(L, -1);
        if (!e || !strstr(e, "must not be NaN or Inf")) mismatch(data, size, e ? e : "encode failed");
        lua_settop(L, 0);
        return 0;
    }
    size_t tl;
    const char *text = lua_tolstring(L, 2, &tl);
    if (!jsondec_decode(L, text, tl, err, sizeof err)) mismatch((const uint8_t *)text, tl, "jsondec rejects jsonenc's text");
    /* the reading back is the reference now: an integral float of the
     * original may come back as an integer, which same() allows with the
     * roles swapped */
    if (!same(3, 1, 0)) mismatch((const uint8_t *)text, tl, "the encoding reads back different");
    lua_settop(L, 0);
    return 0;
}
