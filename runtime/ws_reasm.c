/* ws_reasm.c — see ws_reasm.h */
#include "ws_reasm.h"

#include <stdlib.h>
#include <string.h>

int ws_reasm_feed(ws_reasm *r, const void *in, size_t len, int binary, int final, size_t max) {
    if (!r->active) {
        r->active = 1;
        r->binary = binary;
        r->buf.len = 0;
    }
    if (len > max || r->buf.len > max - len) {
        gl_buf_free(&r->buf);
        r->active = 0;
        return WS_REASM_TOO_BIG;
    }
    if (len) gl_buf_add(&r->buf, in, len);
    return final ? WS_REASM_DONE : WS_REASM_MORE;
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
    gl_buf_free(&r->buf);
    r->active = 0;
}
