/*
 * jsondec.c — JSON text to Lua values in one pass (contract in jsondec.h).
 *
 * Made for the SSE path, where every event is a small JSON object decoded
 * into tables a script may read: each value goes straight onto the Lua
 * stack; the members of an object or array wait there (up to a batch) so
 * that its table is created at its final size, with no rehash on the way;
 * a string with no escape is pushed straight from the input (one copy, the
 * one Lua makes); a run of plain characters is found 16 bytes at a time.
 * Short strings without escapes (keys, and values like "model" or a
 * modelVersion) go through a small cache of the strings seen last (per
 * Lua state, anchored in the registry): a hit costs two word compares
 * instead of Lua's hashing and interning. The root object gets one spare
 * slot (gemini.rest adds .text to every chunk).
 */
#define _GNU_SOURCE
#include "jsondec.h"

#include <lauxlib.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* members kept on the stack before their table is created */
#define OBJ_BATCH 32
#define ARR_BATCH 64
_Static_assert(JSONDEC_MAX_DEPTH == 1000, "the depth error message says 1000");

typedef const unsigned char *ptr;

/* the string cache: slot i holds a string anchored at [i + 1] of a table,
 * its length, and its first and last 8 bytes (all of it up to 16 bytes) */
#define KEY_SLOTS 256
#define KEY_MAX 40 /* Lua's short strings: the interned ones */
#define HINT_SLOTS 64
typedef struct {
    struct {
        const char *p;
        size_t len; /* SIZE_MAX: empty */
        uint64_t w0, w1;
    } slot[KEY_SLOTS];
    /* the member count of the n-th object (n % HINT_SLOTS) of the last
     * document decoded, 0 for none: streamed documents share a shape, so
     * the n-th object of this one is created at that size and filled in
     * place, its members never staged on the stack (a wrong guess costs a
     * rehash, never a wrong result) */
    unsigned char hint[HINT_SLOTS];
} key_cache;
static char KEY_CACHE; /* its registry key */

typedef struct {
    lua_State *L;
    ptr s, end;
    int depth;
    const char *what; /* the first error */
    ptr at;
    key_cache *kc;
    int kt; /* stack index of the anchors */
    unsigned nobj; /* objects begun so far */
} dec;

static ptr fail(dec *d, ptr at, const char *what) {
    if (!d->what) {
        d->what = at >= d->end ? "unexpected end of input" : what;
        d->at = at;
    }
    return NULL;
}

/* 1 for JSON's four whitespace bytes: one load per byte instead of five compares */
static const unsigned char ws[256] = {[' '] = 1, ['\n'] = 1, ['\r'] = 1, ['\t'] = 1};

static inline ptr skip_ws(ptr p, ptr end) {
    while (p < end && ws[*p]) p++;
    return p;
}

/* 1 for the bytes a string holds as they are: printable ASCII but " and \ */
static const unsigned char plain[256] = {
    ['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,       /* 0x20-0x2f, '"' = 0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,                  /* 0x50, '\\' = 0 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,                  /* 0x70 */
};

/* The first byte in [p, end) that is not plain: '"', '\\', a control
 * character or a byte of a multi-byte UTF-8 sequence. */
static inline ptr scan_plain(ptr p, ptr end) {
#ifdef __SSE2__
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        /* signed compare: bytes >= 0x80 are negative, so "< 0x20" too */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)), _mm_cmplt_epi8(v, sp));
        int mask = _mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz((unsigned)mask);
        p += 16;
    }
#endif
    while (p < end && plain[*p]) p++;
    return p;
}

/* The length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), or 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static inline int utf8_len(ptr p, ptr end) {
    unsigned c = p[0];
    size_t n = (size_t)(end - p);
    if (c < 0xC2) return 0;
    if (c < 0xE0) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (p[2] & 0xC0) != 0x80) return 0;
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return p[1] >= lo && p[1] <= hi ? 3 : 0;
    }
    if (c < 0xF5) {
        if (n < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi ? 4 : 0;
    }
    return 0;
}

static int hex4(ptr p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], x;
        if (c >= '0' && c <= '9') x = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') x = (c | 0x20) - 'a' + 10;
        else return -1;
        v = v << 4 | x;
    }
    return v;
}

/* The character a one-letter escape (\" \\ \/ \b \f \n \r \t) stands
 * for, or -1 when e is not one (\u, or an invalid escape). */
static inline int simple_escape(unsigned char e) {
    switch (e) {
    case '"': case '\\': case '/': return e;
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return -1;
    }
}

/* The code point of a UTF-16 surrogate pair (hi in D800-DBFF, lo in DC00-DFFF) */
static inline long utf16_pair(long hi, long lo) { return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00); }

/* cp (at most U+10FFFF) in UTF-8 at u (room for 4): its length */
static inline size_t utf8_put(char *u, long cp) {
    if (cp < 0x80) return u[0] = (char)cp, 1;
    if (cp < 0x800) return u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000)
        return u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F)), 3;
    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The rest of a string that has an escape: s is its first character, p
 * the first backslash. Kept out of line: its buffer would otherwise sit in
 * every frame of the recursion. */
static __attribute__((noinline)) ptr parse_string_esc(dec *d, ptr s, ptr p) {
    ptr end = d->end;
    luaL_Buffer b;
    luaL_buffinit(d->L, &b);
    luaL_addlstring(&b, (const char *)s, (size_t)(p - s));
    for (;;) {
        /* p is at a backslash */
        if (end - p < 2) return fail(d, end, "");
        int c = simple_escape(p[1]);
        if (c >= 0) {
            luaL_addchar(&b, (char)c);
            p += 2;
        } else if (p[1] == 'u') {
            for (ptr h = p + 2; h < p + 6; h++) {
                if (h == end) return fail(d, end, "");
                if (!((unsigned)(*h - '0') < 10 || (unsigned)((*h | 0x20) - 'a') < 6)) return fail(d, p, "invalid \\u escape");
            }
            long cp = hex4(p + 2);
            if (cp < 0) return fail(d, p, "invalid \\u escape");
            ptr esc = p;
            p += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(d, esc, "lone UTF-16 surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return fail(d, esc, "lone UTF-16 surrogate in \\u escape");
                cp = utf16_pair(cp, lo);
                p += 6;
            }
            char u[4];
            luaL_addlstring(&b, u, utf8_put(u, cp));
        } else
            return fail(d, p, "invalid escape in string");
        /* a run of characters up to the next backslash or the end quote */
        s = p;
        for (;;) {
            p = scan_plain(p, end);
            if (p == end) return fail(d, end, "");
            if (*p < 0x80) break;
            int n = utf8_len(p, end);
            if (!n) return fail(d, p, "invalid UTF-8 in string");
            p += n;
        }
        luaL_addlstring(&b, (const char *)s, (size_t)(p - s));
        if (*p == '"') {
            luaL_pushresult(&b);
            return p + 1;
        }
        if (*p != '\\') return fail(d, p, "control character in string");
    }
}

static inline uint64_t load8(ptr p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Push s[0..n) (n <= KEY_MAX), from the cache when it holds it. */
static inline void push_cached(dec *d, ptr s, size_t n) {
    uint64_t w0 = 0, w1 = 0;
    if (n >= 8) {
        w0 = load8(s);
        w1 = load8(s + n - 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    } else if (n > 0 && d->end - s >= 8) { /* the bytes after s are input too */
        w0 = load8(s) & (~(uint64_t)0 >> (64 - 8 * n));
#endif
    } else {
        for (size_t i = 0; i < n; i++) w0 |= (uint64_t)s[i] << (8 * i);
    }
    unsigned h = (unsigned)(((w0 * 0x9E3779B97F4A7C15ull) ^ w1 ^ n) * 0xFF51AFD7ED558CCDull >> 56) % KEY_SLOTS;
    key_cache *c = d->kc;
    if (c->slot[h].len == n && c->slot[h].w0 == w0 && c->slot[h].w1 == w1 &&
        (n <= 16 || memcmp(c->slot[h].p + 8, s + 8, n - 16) == 0)) {
        lua_rawgeti(d->L, d->kt, (lua_Integer)h + 1);
        return;
    }
    lua_pushlstring(d->L, (const char *)s, n);
    lua_pushvalue(d->L, -1);
    lua_rawseti(d->L, d->kt, (lua_Integer)h + 1);
    c->slot[h].p = lua_tostring(d->L, -1);
    c->slot[h].len = n;
    c->slot[h].w0 = w0;
    c->slot[h].w1 = w1;
}

/* A string; p is just past its opening quote. */
static inline ptr parse_string(dec *d, ptr p) {
    ptr s = p, end = d->end;
    for (;;) {
        p = scan_plain(p, end);
        if (p == end) return fail(d, end, "");
        unsigned c = *p;
        if (c == '"') {
            size_t n = (size_t)(p - s);
            if (n <= KEY_MAX) push_cached(d, s, n);
            else lua_pushlstring(d->L, (const char *)s, n);
            return p + 1;
        }
        if (c >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) return fail(d, p, "invalid UTF-8 in string");
            p += n;
            continue;
        }
        if (c == '\\') return parse_string_esc(d, s, p);
        return fail(d, p, "control character in string");
    }
}

static locale_t c_numeric;

/* A number that is not an integer: strtod's value of [s, p). */
static __attribute__((noinline)) void push_float(lua_State *L, ptr s, ptr p) {
    char small[64], *buf = small;
    size_t n = (size_t)(p - s);
    if (n >= sizeof small && !(buf = malloc(n + 1))) {
        luaL_error(L, "not enough memory");
        return;
    }
    memcpy(buf, s, n);
    buf[n] = 0;
    if (!c_numeric) c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    double v = c_numeric ? strtod_l(buf, NULL, c_numeric) : strtod(buf, NULL);
    if (buf != small) free(buf);
    lua_pushnumber(L, v);
}

#define DIGIT(c) ((unsigned)((c) - '0') < 10)

static ptr parse_number(dec *d, ptr p) {
    ptr s = p, end = d->end;
    int neg = *p == '-';
    if (neg) p++;
    if (p == end || !DIGIT(*p)) return fail(d, p, "invalid number");
    ptr digits = p;
    uint64_t v = 0;
    if (*p == '0') {
        p++;
        if (p < end && DIGIT(*p)) return fail(d, s, "invalid number (leading zero)");
    } else {
        while (p < end && DIGIT(*p)) v = v * 10 + (uint64_t)(*p++ - '0'); /* wraps past 19 digits: unused then */
    }
    size_t nd = (size_t)(p - digits);
    int integral = 1;
    if (p < end && *p == '.') {
        integral = 0;
        p++;
        if (p == end || !DIGIT(*p)) return fail(d, p, "invalid number (a digit must follow '.')");
        while (p < end && DIGIT(*p)) p++;
    }
    if (p < end && (*p | 0x20) == 'e') {
        integral = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || !DIGIT(*p)) return fail(d, p, "invalid number (a digit must follow the exponent)");
        while (p < end && DIGIT(*p)) p++;
    }
    /* at most 19 digits hold no more than 9999999999999999999 < 2^64 */
    if (integral && nd <= 19 && !(neg && v == 0)) {
        if (!neg && v <= (uint64_t)INT64_MAX) {
            lua_pushinteger(d->L, (lua_Integer)v);
            return p;
        }
        if (neg && v <= (uint64_t)INT64_MAX + 1) {
            lua_pushinteger(d->L, v == (uint64_t)INT64_MAX + 1 ? LUA_MININTEGER : -(lua_Integer)v);
            return p;
        }
    }
    push_float(d->L, s, p);
    return p;
}

static ptr parse_value(dec *d, ptr p);

/* The n key/value pairs above base become a table of n + extra slots, put
 * in their place: returns its index. Set in order: the last duplicate wins. */
static int flush_object(lua_State *L, int base, int n, int extra) {
    lua_createtable(L, 0, n + extra);
    int t = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, base + 1 + 2 * i);
        lua_pushvalue(L, base + 2 + 2 * i);
        lua_rawset(L, t);
    }
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return base + 1;
}

static int flush_array(lua_State *L, int base, int n, int extra) {
    lua_createtable(L, n + extra, 0);
    lua_insert(L, base + 1);
    for (int i = n; i >= 1; i--) lua_rawseti(L, base + 1, i);
    return base + 1;
}

static ptr enter(dec *d, ptr p, int slots) {
    if (++d->depth > JSONDEC_MAX_DEPTH) return fail(d, p, "nested too deep (more than 1000 levels)");
    if (!lua_checkstack(d->L, slots)) return fail(d, p, "nested too deep (Lua stack)");
    return p;
}

static ptr parse_object(dec *d, ptr p) {
    lua_State *L = d->L;
    ptr end = d->end;
    if (!enter(d, p, 2 * OBJ_BATCH + 8)) return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        lua_createtable(L, 0, 0);
        d->depth--;
        return p + 1;
    }
    int base = lua_gettop(L), n = 0, t = 0;
    unsigned char *hint = &d->kc->hint[d->nobj++ % HINT_SLOTS];
    if (*hint) {
        lua_createtable(L, 0, *hint + (d->depth == 1));
        t = base + 1;
    }
    for (;;) {
        if (p == end || *p != '"') return fail(d, p, "expected a string key");
        if (!(p = parse_string(d, p + 1))) return NULL;
        p = skip_ws(p, end);
        if (p == end || *p != ':') return fail(d, p, "expected ':' after a key");
        p = skip_ws(p + 1, end);
        if (!(p = parse_value(d, p))) return NULL;
        n++;
        if (t) lua_rawset(L, t);
        else if (n == OBJ_BATCH) t = flush_object(L, base, n, n);
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') break;
        return fail(d, p, "expected ',' or '}' in an object");
    }
    if (!t) flush_object(L, base, n, d->depth == 1);
    *hint = n < OBJ_BATCH ? (unsigned char)n : 0; /* a big one: staged, then grown */
    d->depth--;
    return p + 1;
}

static ptr parse_array(dec *d, ptr p) {
    lua_State *L = d->L;
    ptr end = d->end;
    if (!enter(d, p, ARR_BATCH + 8)) return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') {
        lua_createtable(L, 0, 0);
        d->depth--;
        return p + 1;
    }
    int base = lua_gettop(L), n = 0, t = 0;
    for (;;) {
        if (!(p = parse_value(d, p))) return NULL;
        n++;
        if (t) lua_rawseti(L, t, n);
        else if (n == ARR_BATCH) t = flush_array(L, base, n, n);
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') break;
        return fail(d, p, "expected ',' or ']' in an array");
    }
    if (!t) flush_array(L, base, n, 0);
    d->depth--;
    return p + 1;
}

/* A value; p is at its first character (whitespace skipped). */
static ptr parse_value(dec *d, ptr p) {
    ptr end = d->end;
    if (p == end) return fail(d, p, "");
    switch (*p) {
    case '"': return parse_string(d, p + 1);
    case '{': return parse_object(d, p);
    case '[': return parse_array(d, p);
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            lua_pushboolean(d->L, 1);
            return p + 4;
        }
        break;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            lua_pushboolean(d->L, 0);
            return p + 5;
        }
        break;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            lua_pushlightuserdata(d->L, NULL);
            return p + 4;
        }
        break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d, p);
    }
    return fail(d, p, "expected a value");
}

int jsondec_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen) {
    dec d = {L, (ptr)s, (ptr)s + len, 0, NULL, NULL, NULL, 0, 0};
    int top = lua_gettop(L);
    luaL_checkstack(L, 10, "jsondec");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &KEY_CACHE) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        key_cache *c = lua_newuserdatauv(L, sizeof *c, 1);
        memset(c, 0, sizeof *c);
        for (int i = 0; i < KEY_SLOTS; i++) c->slot[i].len = SIZE_MAX;
        lua_createtable(L, KEY_SLOTS, 0);
        lua_setiuservalue(L, -2, 1);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &KEY_CACHE);
    }
    d.kc = lua_touserdata(L, -1);
    lua_getiuservalue(L, -1, 1);
    d.kt = lua_gettop(L);
    ptr p = skip_ws(d.s, d.end);
    if ((p = parse_value(&d, p))) {
        p = skip_ws(p, d.end);
        if (p == d.end) {
            lua_replace(L, top + 1);
            lua_settop(L, top + 1);
            return 1;
        }
        fail(&d, p, "more data after the value");
    }
    lua_settop(L, top);
    if (err && errlen)
        snprintf(err, errlen, "invalid JSON at byte %zu: %s", (size_t)(d.at - d.s) + 1, d.what);
    return 0;
}

/* ---- the streamed chunk's fast path (jsondec.h: jsondec_chunk_scan) ----
 *
 * A validating skipper (the same grammar as the decoder above: what it
 * accepts, jsondec_decode accepts) that walks one GenerateContentResponse
 * and keeps only where the text of candidates[0].content.parts is. It
 * answers "not simple" for anything it does not fully understand: the
 * caller then decodes the whole text. Nesting deeper than CHUNK_DEPTH is
 * "not simple" too, so the recursion stays small. */

#define CHUNK_DEPTH 64

/* a string's rest after its opening quote: past its closing quote, or NULL
 * (malformed); *esc set when it holds an escape */
static inline __attribute__((always_inline)) ptr sk_string(ptr p, ptr end, int *esc) {
    for (;;) {
        p = scan_plain(p, end);
        if (p == end) return NULL;
        unsigned c = *p;
        if (c == '"') return p + 1;
        if (c >= 0x80) {
            int n = utf8_len(p, end);
            if (!n) return NULL;
            p += n;
            continue;
        }
        if (c != '\\') return NULL; /* a control character */
        *esc = 1;
        if (end - p < 2) return NULL;
        if (simple_escape(p[1]) >= 0) {
            p += 2;
            continue;
        }
        if (p[1] != 'u' || end - p < 6) return NULL;
        int cp = hex4(p + 2);
        if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) return NULL;
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) return NULL;
            p += 6;
        }
    }
}

static inline __attribute__((always_inline)) ptr sk_number(ptr p, ptr end) {
    if (p < end && *p == '-') p++;
    if (p == end || !DIGIT(*p)) return NULL;
    if (*p == '0') {
        p++;
        if (p < end && DIGIT(*p)) return NULL;
    } else {
        while (p < end && DIGIT(*p)) p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !DIGIT(*p)) return NULL;
        while (p < end && DIGIT(*p)) p++;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || !DIGIT(*p)) return NULL;
        while (p < end && DIGIT(*p)) p++;
    }
    return p;
}

/* any value at p (whitespace skipped) at nesting depth `depth` */
static ptr sk_value(ptr p, ptr end, int depth) {
    int esc = 0;
    if (p == end) return NULL;
    switch (*p) {
    case '"': return sk_string(p + 1, end, &esc);
    case '{':
    case '[': {
        unsigned char close = *p == '{' ? '}' : ']';
        if (depth + 1 > CHUNK_DEPTH) return NULL;
        p = skip_ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                if (p == end || *p != '"' || !(p = sk_string(p + 1, end, &esc))) return NULL;
                p = skip_ws(p, end);
                if (p == end || *p != ':') return NULL;
                p = skip_ws(p + 1, end);
            }
            if (!(p = sk_value(p, end, depth + 1))) return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p = skip_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == close) return p + 1;
            return NULL;
        }
    }
    case 't': return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f': return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n': return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return sk_number(p, end);
    }
    return NULL;
}

/* Walk the members of the object at p ('{' expected): for each, call
 * member(ctx, key, keylen, value) which returns past the value or NULL.
 * A key with an escape makes the object "not simple" (it could decode to
 * a key that matters). Returns past the '}' or NULL. */
typedef ptr (*sk_member_fn)(void *ctx, ptr key, size_t klen, ptr v, ptr end);
static ptr sk_object(ptr p, ptr end, sk_member_fn member, void *ctx) {
    if (p == end || *p != '{') return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') return p + 1;
    for (;;) {
        int esc = 0;
        if (p == end || *p != '"') return NULL;
        ptr k = p + 1;
        if (!(p = sk_string(k, end, &esc)) || esc) return NULL;
        size_t klen = (size_t)(p - 1 - k);
        p = skip_ws(p, end);
        if (p == end || *p != ':') return NULL;
        p = skip_ws(p + 1, end);
        if (p == end || !(p = member(ctx, k, klen, p, end))) return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}') return p + 1;
        return NULL;
    }
}

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), sizeof(lit) - 1) == 0)

typedef struct {
    jsondec_chunk_info *ci;
    int seen; /* bit set of the keys met (a duplicate is "not simple") */
    int depth;
    ptr text;  /* a part's text, past its quote */
    size_t tlen;
    int tesc, thought;
} chunk_walk;

static ptr part_member(void *ctx, ptr k, size_t n, ptr v, ptr end) {
    chunk_walk *w = ctx;
    if (KEY_IS(k, n, "text")) {
        int esc = 0;
        if (w->seen & 1 || *v != '"') return NULL;
        w->seen |= 1;
        ptr e = sk_string(v + 1, end, &esc);
        if (!e) return NULL;
        w->text = v + 1, w->tlen = (size_t)(e - 1 - (v + 1)), w->tesc = esc;
        return e;
    }
    if (KEY_IS(k, n, "thought")) {
        if (w->seen & 2) return NULL;
        w->seen |= 2;
        if (end - v >= 4 && memcmp(v, "true", 4) == 0) return w->thought = 1, v + 4;
        if (end - v >= 5 && memcmp(v, "false", 5) == 0) return v + 5;
        return NULL;
    }
    if (KEY_IS(k, n, "thoughtSignature")) return sk_value(v, end, w->depth);
    return NULL; /* a call, inline data, code, ...: the full decode */
}

static ptr parts_walk(chunk_walk *w, ptr p, ptr end) {
    if (p == end || *p != '[') return NULL;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']') return p + 1;
    for (;;) {
        chunk_walk pw = {w->ci, 0, w->depth + 2, NULL, 0, 0, 0};
        if (!(p = sk_object(p, end, part_member, &pw))) return NULL;
        if (pw.text && pw.tlen && !pw.thought) {
            jsondec_chunk_info *ci = w->ci;
            if (ci->ntext == JSONDEC_CHUNK_TEXTS) return NULL;
            ci->text[ci->ntext].p = (const char *)pw.text;
            ci->text[ci->ntext].len = pw.tlen;
            ci->text[ci->ntext].esc = pw.tesc;
            ci->ntext++;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') return p + 1;
        return NULL;
    }
}

static ptr content_member(void *ctx, ptr k, size_t n, ptr v, ptr end) {
    chunk_walk *w = ctx;
    if (KEY_IS(k, n, "parts")) {
        if (w->seen & 1) return NULL;
        w->seen |= 1;
        return parts_walk(w, v, end);
    }
    return sk_value(v, end, w->depth);
}

static ptr cand_member(void *ctx, ptr k, size_t n, ptr v, ptr end) {
    chunk_walk *w = ctx;
    if (KEY_IS(k, n, "content")) {
        if (w->seen & 1) return NULL;
        w->seen |= 1;
        chunk_walk cw = {w->ci, 0, w->depth + 1, NULL, 0, 0, 0};
        return sk_object(v, end, content_member, &cw);
    }
    if (KEY_IS(k, n, "finishReason")) {
        if (w->seen & 2) return NULL;
        w->seen |= 2;
        if (end - v >= 4 && memcmp(v, "null", 4) == 0) return v + 4;
        int esc = 0;
        if (*v != '"') return NULL;
        ptr e = sk_string(v + 1, end, &esc);
        if (!e || esc) return NULL;
        w->ci->finish = (const char *)v + 1;
        w->ci->finish_len = (size_t)(e - 1 - (v + 1));
        return e;
    }
    if (KEY_IS(k, n, "continuationToken")) return NULL;
    return sk_value(v, end, w->depth);
}

static ptr top_member(void *ctx, ptr k, size_t n, ptr v, ptr end) {
    chunk_walk *w = ctx;
    if (KEY_IS(k, n, "candidates")) { /* exactly one candidate, an object */
        if (w->seen & 1) return NULL;
        w->seen |= 1;
        if (*v != '[') return NULL;
        ptr p = skip_ws(v + 1, end);
        chunk_walk cw = {w->ci, 0, 3, NULL, 0, 0, 0};
        if (!(p = sk_object(p, end, cand_member, &cw))) return NULL;
        p = skip_ws(p, end);
        return p < end && *p == ']' ? p + 1 : NULL;
    }
    if (KEY_IS(k, n, "usageMetadata")) {
        if (w->seen & 2) return NULL;
        w->seen |= 2;
        w->ci->usage = *v == '{' || *v == '['; /* a table in Lua, as rest.lua tests it */
        return sk_value(v, end, 1);
    }
    if (KEY_IS(k, n, "error") || KEY_IS(k, n, "promptFeedback") || KEY_IS(k, n, "text")) return NULL;
    return sk_value(v, end, 1);
}

int jsondec_chunk_scan(const char *s, size_t len, jsondec_chunk_info *ci) {
    ptr end = (ptr)s + len;
    memset(ci, 0, sizeof *ci);
    chunk_walk w = {ci, 0, 1, NULL, 0, 0, 0};
    ptr p = sk_object(skip_ws((ptr)s, end), end, top_member, &w);
    if (!p || skip_ws(p, end) != end || !(w.seen & 1)) {
        memset(ci, 0, sizeof *ci);
        return 0;
    }
    return 1;
}

/* the decoded text of a string whose escapes sk_string validated */
static void add_unescaped(luaL_Buffer *b, ptr p, ptr end) {
    while (p < end) {
        ptr s = p;
        while (p < end && *p != '\\') p++;
        luaL_addlstring(b, (const char *)s, (size_t)(p - s));
        if (p == end) break;
        int c = simple_escape(p[1]);
        if (c >= 0) {
            luaL_addchar(b, (char)c);
            p += 2;
            continue;
        }
        long cp = hex4(p + 2); /* \u, validated by sk_string */
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = utf16_pair(cp, hex4(p + 2));
            p += 6;
        }
        char u[4];
        luaL_addlstring(b, u, utf8_put(u, cp));
    }
}

void jsondec_chunk_push_text(lua_State *L, const jsondec_chunk_info *ci) {
    if (ci->ntext == 0) {
        lua_pushliteral(L, "");
        return;
    }
    if (ci->ntext == 1 && !ci->text[0].esc) {
        lua_pushlstring(L, ci->text[0].p, ci->text[0].len);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < ci->ntext; i++)
        add_unescaped(&b, (ptr)ci->text[i].p, (ptr)ci->text[i].p + ci->text[i].len);
    luaL_pushresult(&b);
}
