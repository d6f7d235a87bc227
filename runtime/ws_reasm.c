/* ws_reasm.c — see ws_reasm.h */
#include "ws_reasm.h"

#include <stdlib.h>
#include <string.h>

/* Continue a UTF-8 check over p (Unicode Table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 0, or -1 at the first byte
 * that no valid text can have there. */
static int utf8_feed(ws_reasm *r, const unsigned char *p, size_t n) {
    int need = r->u8_need;
    unsigned lo = r->u8_lo, hi = r->u8_hi;
    size_t i = 0;
    while (i < n) {
        unsigned c;
        if (!need) {                       /* ASCII runs, 8 bytes at a time */
            uint64_t w;
            while (i + 8 <= n) {
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            if (i == n) break;
        }
        c = p[i++];
        if (need) {
            if (c < lo || c > hi) return -1;
            need--;
            lo = 0x80; hi = 0xBF;
            continue;
        }
        if (c < 0x80) continue;
        lo = 0x80; hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else return -1;
    }
    r->u8_need = need;
    r->u8_lo = (unsigned char)lo;
    r->u8_hi = (unsigned char)hi;
    return 0;
}

static void drop(ws_reasm *r) {
    gl_buf_free(&r->buf);
    r->active = 0;
}

int ws_reasm_feed(ws_reasm *r, const void *in, size_t len, int binary, int final, size_t max) {
    if (!r->active) {
        r->active = 1;
        r->binary = binary;
        r->buf.len = 0;
        r->u8_need = 0;
    }
    if (len > max || r->buf.len > max - len) {
        drop(r);
        return WS_REASM_TOO_BIG;
    }
    if (!r->binary && (utf8_feed(r, in, len) || (final && r->u8_need))) {
        drop(r);
        return WS_REASM_BAD_UTF8;
    }
    if (len) gl_buf_add(&r->buf, in, len);
    return final ? WS_REASM_DONE : WS_REASM_MORE;
}

int ws_reasm_check_whole(const void *in, size_t len, int binary, size_t max) {
    ws_reasm r;
    if (len > max) return WS_REASM_TOO_BIG;
    if (binary) return WS_REASM_DONE;
    r.u8_need = 0;
    r.u8_lo = 0x80;
    r.u8_hi = 0xBF;
    return utf8_feed(&r, in, len) || r.u8_need ? WS_REASM_BAD_UTF8 : WS_REASM_DONE;
}

unsigned char *ws_reasm_take(ws_reasm *r, size_t *len, int *binary) {
    unsigned char *p = (unsigned char *)r->buf.p;
    *len = r->buf.len;
    *binary = r->binary;
    if (!p) {
        p = malloc(1);
        if (!p) abort();
        p[0] = 0;
    }
    r->buf.p = NULL;
    r->buf.len = r->buf.cap = 0;
    r->active = 0;
    return p;
}

void ws_reasm_free(ws_reasm *r) {
    drop(r);
}
