/*
 * buf.c — gl_buf, the growing byte buffer every module builds records in,
 * and its JSON string encoder.
 */
#include "gl.h"

#include <stdlib.h>
#include <string.h>

void gl_buf_add(gl_buf *b, const void *s, size_t len) {
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void gl_buf_adds(gl_buf *b, const char *s) { gl_buf_add(b, s, strlen(s)); }

void gl_buf_free(gl_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void gl_buf_json_str(gl_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    gl_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        gl_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"':
            esc[1] = '"';
            gl_buf_add(b, esc, 2);
            break;
        case '\\':
            esc[1] = '\\';
            gl_buf_add(b, esc, 2);
            break;
        case '\n':
            esc[1] = 'n';
            gl_buf_add(b, esc, 2);
            break;
        case '\r':
            esc[1] = 'r';
            gl_buf_add(b, esc, 2);
            break;
        case '\t':
            esc[1] = 't';
            gl_buf_add(b, esc, 2);
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            gl_buf_add(b, esc, 6);
        }
    }
    gl_buf_add(b, s + run, len - run);
    gl_buf_add(b, "\"", 1);
}
