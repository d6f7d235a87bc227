/*
 * b64.c — base64, the one implementation: standard (RFC 4648 §4, padded)
 * for core.b64encode/b64decode and cassettes, base64url (§5, unpadded)
 * for crypto.b64url (JWTs).
 */
#include "gl.h"

#include <stdint.h>

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t gl_b64_encode(char *out, const void *in, size_t len, int url) {
    const unsigned char *s = in;
    const char *tab = url ? URL : STD;
    size_t n = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[n++] = tab[v >> 18 & 63];
        out[n++] = tab[v >> 12 & 63];
        out[n++] = tab[v >> 6 & 63];
        out[n++] = tab[v & 63];
    }
    if (len - i >= 1) {
        uint32_t v = (uint32_t)s[i] << 16 | (len - i == 2 ? (uint32_t)s[i + 1] << 8 : 0);
        out[n++] = tab[v >> 18 & 63];
        out[n++] = tab[v >> 12 & 63];
        if (len - i == 2) out[n++] = tab[v >> 6 & 63];
        if (!url) {
            if (len - i == 1) out[n++] = '=';
            out[n++] = '=';
        }
    }
    out[n] = 0;
    return n;
}

static int val64(unsigned char c, int strict) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || (!strict && c == '-')) return 62;
    if (c == '/' || (!strict && c == '_')) return 63;
    return -1;
}

long gl_b64_decode(char *out, const char *in, size_t len, int strict) {
    const unsigned char *s = (const unsigned char *)in;
    if (strict) {
        if (len % 4 != 0) return -1;
        if (len && s[len - 1] == '=') len--;
        if (len && s[len - 1] == '=') len--;
    } else {
        while (len && s[len - 1] == '=') len--;
    }
    if (len % 4 == 1) return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = val64(s[i], strict);
        if (v < 0) return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)(acc >> bits & 0xff);
        }
    }
    return (long)n;
}

/* The Lua side: encode the string at idx / decode it (nil, err of kind
 * "protocol" naming what when it is malformed). */
int gl_push_b64(lua_State *L, int idx, int url) {
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, 4 * ((len + 2) / 3) + 1);
    luaL_pushresultsize(&b, gl_b64_encode(p, s, len, url));
    return 1;
}

int gl_push_unb64(lua_State *L, int idx, int strict, const char *what) {
    size_t len;
    const char *s = luaL_checklstring(L, idx, &len);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, len / 4 * 3 + 3);
    long n = gl_b64_decode(p, s, len, strict);
    if (n < 0) return gl_fail(L, "protocol", "malformed %s text", what);
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}
