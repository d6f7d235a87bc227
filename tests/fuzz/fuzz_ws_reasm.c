/*
 * fuzz_ws_reasm.c — WebSocket message reassembly (runtime/ws_reasm.c) fed
 * an arbitrary sequence of fragments. Input: byte 0 picks the bound
 * (max_message), then fragments of [flags][len lo][len hi][bytes] where
 * flags bit 0 = binary, bit 1 = final. Checked against a reference: every
 * completed message is exactly the concatenation of its fragments, its
 * type is its first fragment's, nothing over the bound is delivered, and a
 * text message is refused (WS_REASM_BAD_UTF8) exactly at the first fragment
 * after which it can no longer be valid UTF-8 (the reference decodes code
 * points instead of checking byte ranges). A fragment that is a whole
 * message gets the same answer from ws_reasm_check_whole.
 */
#include "ws_reasm.h"

#include <stdlib.h>
#include <string.h>

static int overlaps(uint32_t lo, uint32_t hi, uint32_t a, uint32_t b) {
    return (lo > a ? lo : a) <= (hi < b ? hi : b);
}

/* Is s[0..n) valid UTF-8 (complete) or a prefix of valid UTF-8 (!complete)? */
static int ref_utf8(const unsigned char *s, size_t n, int complete) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len, have, k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        have = n - i < len ? n - i : len;
        for (k = 1; k < have; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (have < len) {
            /* the code points the missing bytes could still make */
            uint32_t lo, hi;
            if (complete) return 0;
            lo = cp << (6 * (len - have));
            hi = lo | ((1u << (6 * (len - have))) - 1);
            return overlaps(lo, hi, min, 0xD7FF) || overlaps(lo, hi, min > 0xE000 ? min : 0xE000, 0x10FFFF);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t max = (size_t)data[0] * 16 + 1;
    ws_reasm r;
    memset(&r, 0, sizeof r);
    unsigned char *ref = malloc(size + 1);
    size_t ref_len = 0;
    int ref_active = 0, ref_binary = 0;
    size_t i = 1;
    while (i + 3 <= size) {
        int flags = data[i];
        size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
        i += 3;
        if (len > size - i) len = size - i;
        const uint8_t *frag = data + i;
        i += len;
        if (!ref_active) { ref_active = 1; ref_binary = flags & 1; ref_len = 0; }
        int final = (flags & 2) != 0;
        int whole = final && !r.active;   /* the client's in-place path must agree */
        int st_whole = whole ? ws_reasm_check_whole(frag, len, flags & 1, max) : 0;
        int st = ws_reasm_feed(&r, frag, len, flags & 1, final, max);
        if (whole && st_whole != st) abort();
        if (ref_len + len > max) {
            if (st != WS_REASM_TOO_BIG) abort();
            ref_active = 0;
            continue;
        }
        memcpy(ref + ref_len, frag, len);
        ref_len += len;
        if (!ref_binary && !ref_utf8(ref, ref_len, final)) {
            if (st != WS_REASM_BAD_UTF8) abort();
            ref_active = 0;
            continue;
        }
        if (st == WS_REASM_TOO_BIG || st == WS_REASM_BAD_UTF8) abort();
        if ((flags & 2) != (st == WS_REASM_DONE ? 2 : 0)) abort();
        if (st == WS_REASM_DONE) {
            size_t got_len;
            int bin;
            unsigned char *got = ws_reasm_take(&r, &got_len, &bin);
            if (got_len != ref_len || bin != ref_binary || memcmp(got, ref, ref_len) != 0) abort();
            if (got_len > max) abort();
            free(got);
            ref_active = 0;
        }
    }
    ws_reasm_free(&r);
    free(ref);
    return 0;
}
