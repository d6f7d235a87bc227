/*
 * fuzz_redact.c — secret redaction (runtime/core.c) of arbitrary text with
 * arbitrary secrets, cut into arbitrary pieces. Input: byte 0 = how many
 * secrets (0-3), then each as [len][bytes]; then a byte giving the piece
 * sizes' seed; the rest is the text. Checked: redacting the text piece by
 * piece (gl_redstream, as --trace does with network reads) writes exactly
 * what redacting it whole writes; gl_redact_cuts (--record) gives the same
 * text with increasing cut points; no whole secret survives (a secret
 * without '*', which "***" could complete, and not inside the name of a
 * carrier such as "x-goog-api-key: ", which is kept).
 */
#define _GNU_SOURCE /* memmem */
#include "gl.h"

#include <stdlib.h>
#include <string.h>

void gl_secrets_free(void);

/* inside one of core.c's carrier names (case-insensitive) */
static int in_carrier_name(const uint8_t *s, size_t n) {
    static const char *const names[] = {"x-goog-api-key: ", "authorization: bearer ", "authorization: token ",
                                        "access_token=", "refresh_token=", "client_secret=", "assertion=", "key=",
                                        "\"access_token\":\"", "\"access_token\": \"",
                                        "\\\"access_token\\\": \\\"", NULL};
    for (int c = 0; names[c]; c++) {
        size_t m = strlen(names[c]);
        for (size_t at = 0; at + n <= m; at++) {
            size_t k = 0;
            while (k < n && (s[k] | 0x20) == (names[c][at + k] | 0x20)) k++;
            if (k == n) return 1;
        }
    }
    return 0;
}

/* Fixed cases: a carrier's value ends at the first byte that cannot be part
 * of a key or token, and that byte is kept (a ':' after key=... once
 * disappeared with the value). */
static void fixed_cases(void) {
    static const char *const cases[][2] = {
        {"url?key=abc:def x", "url?key=***:def x"},
        {"(key=AIzaSy-abc_123) next", "(key=***) next"},
        {"?key=abc&x=1", "?key=***&x=1"},
        {"access_token=ya29.a0-b_c~d+e/f=; rest", "access_token=***; rest"},
        {"x-goog-api-key: AIza-k:x", "x-goog-api-key: ***:x"},
        {"key=***", "key=***"},
        {NULL, NULL},
    };
    for (int i = 0; cases[i][0]; i++) {
        size_t n;
        char *r = gl_redact(cases[i][0], strlen(cases[i][0]), &n);
        if (strcmp(r, cases[i][1]) != 0) abort();
        free(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fixed_done;
    if (!fixed_done++) fixed_cases();
    if (size < 2) return 0;
    size_t i = 1;
    int nsec = data[0] & 3;
    const uint8_t *sec[3];
    size_t seclen[3];
    int n = 0;
    for (int k = 0; k < nsec && i < size; k++) {
        size_t len = data[i++] % 48;
        if (len > size - i) len = size - i;
        sec[n] = data + i;
        seclen[n] = len;
        if (len >= 4) n++;
        i += len;
    }
    if (i >= size) return 0;
    unsigned seed = data[i++];
    const char *text = (const char *)data + i;
    size_t len = size - i;
    for (int k = 0; k < n; k++) gl_secret_add((const char *)sec[k], seclen[k]);

    size_t wl;
    char *whole = gl_redact(text, len, &wl);

    /* piece by piece, with cuts everywhere the seed says */
    gl_redstream rs = {0};
    gl_buf out = {0};
    size_t cap = 2 * len + 2; /* empty pieces too, a bounded number of them */
    size_t *cuts = malloc(cap * sizeof *cuts), *ocuts = malloc(cap * sizeof *ocuts);
    size_t ncuts = 0, at = 0;
    unsigned x = seed * 2654435761u + 1;
    while (at < len) {
        x = x * 1103515245u + 12345u;
        size_t step = (x >> 16) % 17;
        if (step > len - at || ncuts == cap - 1) step = len - at;
        gl_redstream_feed(&rs, text + at, step, &out);
        at += step;
        cuts[ncuts++] = at;
    }
    gl_redstream_finish(&rs, &out);
    if (out.len != wl || (wl && memcmp(out.p, whole, wl) != 0)) abort();

    size_t cl;
    char *cut = gl_redact_cuts(text, len, cuts, ocuts, ncuts, &cl);
    if (cl != wl || memcmp(cut, whole, wl) != 0) abort();
    for (size_t k = 0; k < ncuts; k++) {
        if (ocuts[k] > cl) abort();
        if (k && ocuts[k] < ocuts[k - 1]) abort();
    }
    if (ncuts && ocuts[ncuts - 1] != cl) abort();

    for (int k = 0; k < n; k++) {
        if (memchr(sec[k], '*', seclen[k]) || in_carrier_name(sec[k], seclen[k])) continue;
        if (memmem(whole, wl, sec[k], seclen[k])) abort();
    }
    free(cut);
    free(cuts);
    free(ocuts);
    gl_buf_free(&out);
    free(whole);
    gl_secrets_free();
    return 0;
}
