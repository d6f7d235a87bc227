/*
 * fuzz_ws_reasm.c — WebSocket message reassembly (runtime/ws_reasm.c) fed
 * an arbitrary sequence of fragments. Input: byte 0 picks the bound
 * (max_message), then fragments of [flags][len lo][len hi][bytes] where
 * flags bit 0 = binary, bit 1 = final. Checked against a reference: every
 * completed message is exactly the concatenation of its fragments, its
 * type is its first fragment's, and nothing over the bound is delivered.
 */
#include "ws_reasm.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t max = (size_t)data[0] * 16 + 1;
    ws_reasm r;
    memset(&r, 0, sizeof r);
    unsigned char *ref = malloc(size + 1);
    size_t ref_len = 0;
    int ref_active = 0, ref_binary = 0, ref_dropped = 0;
    size_t i = 1;
    while (i + 3 <= size) {
        int flags = data[i];
        size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
        i += 3;
        if (len > size - i) len = size - i;
        const uint8_t *frag = data + i;
        i += len;
        if (!ref_active) { ref_active = 1; ref_binary = flags & 1; ref_len = 0; ref_dropped = 0; }
        int st = ws_reasm_feed(&r, frag, len, flags & 1, (flags & 2) != 0, max);
        if (ref_len + len > max) {
            if (st != WS_REASM_TOO_BIG) abort();
            ref_active = 0;
            ref_dropped = 1;
            continue;
        }
        memcpy(ref + ref_len, frag, len);
        ref_len += len;
        if (st == WS_REASM_TOO_BIG) abort();
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
    (void)ref_dropped;
    ws_reasm_free(&r);
    free(ref);
    return 0;
}
