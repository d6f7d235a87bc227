/*
 * tap.c — the wire tap (see tap.h): each wire event, once, to the trace
 * and to the cassette.
 */
#include "tap.h"
#include "cassette.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_TRACE_MAX 4096 /* payload bytes kept in a trace line */

struct gl_tap {
    int transport, ended;
    char *url;       /* redacted: for trace records */
    gl_rec *rec;     /* --record: this exchange (NULL once ended) */
    gl_redstream rs; /* --trace: the byte stream, redacted as one */
};

static const char *name(const gl_tap *t, const char *http, const char *ws) {
    return t->transport == GL_TAP_HTTP ? http : ws;
}

/* "url":"..." then more fields */
static void url_field(gl_buf *b, const gl_tap *t) {
    gl_buf_adds(b, "\"url\":");
    gl_buf_json_str(b, t->url, strlen(t->url));
}

gl_tap *gl_tap_begin(int transport, const char *method, const char *url, const char *headers_json, const char *body,
                     size_t body_len, const char *trace_extra) {
    if (!gl_trace_on() && !gl_cassette_recording()) return NULL;
    gl_tap *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->transport = transport;
    t->url = gl_redact(url, strlen(url), NULL);
    t->rec = gl_rec_begin(name(t, "http", "ws"), method, url, headers_json, body, body_len);
    if (gl_trace_on()) {
        gl_buf b = {0};
        if (transport == GL_TAP_HTTP) {
            gl_buf_adds(&b, "\"method\":");
            gl_buf_json_str(&b, method, strlen(method));
            gl_buf_adds(&b, ",");
            url_field(&b, t);
            gl_buf_adds(&b, ",\"headers\":[");
            if (headers_json) gl_buf_adds(&b, headers_json);
            gl_buf_adds(&b, "]");
            if (body) {
                gl_buf_adds(&b, ",\"body\":");
                gl_buf_json_str(&b, body, body_len);
            }
        } else {
            url_field(&b, t);
        }
        if (trace_extra) gl_buf_adds(&b, trace_extra);
        gl_trace_record(name(t, "http_request", "ws_connect"), b.p);
        gl_buf_free(&b);
    }
    return t;
}

void gl_tap_response(gl_tap *t, long status, const char *headers, size_t len) {
    if (!t) return;
    gl_rec_response(t->rec, status, headers ? headers : "", headers ? len : 0);
    if (!gl_trace_on()) return;
    gl_buf b = {0};
    char s[64];
    if (t->transport == GL_TAP_HTTP) {
        snprintf(s, sizeof s, "\"status\":%ld,", status);
        gl_buf_adds(&b, s);
        url_field(&b, t);
        gl_buf_adds(&b, ",\"headers\":");
        gl_buf_json_str(&b, headers ? headers : "", headers ? len : 0);
    } else {
        url_field(&b, t);
        snprintf(s, sizeof s, ",\"status\":%ld", status);
        gl_buf_adds(&b, s);
    }
    gl_trace_record(name(t, "http_response", "ws_handshake"), b.p);
    gl_buf_free(&b);
}

void gl_tap_data(gl_tap *t, int dir, int kind, const char *p, size_t len) {
    if (!t) return;
    gl_rec_event(t->rec, dir == GL_TAP_SEND ? "send" : "recv",
                 kind == GL_TAP_BYTES    ? NULL
                 : kind == GL_TAP_BINARY ? "binary"
                                         : "text",
                 p, len);
    if (!gl_trace_on()) return;
    gl_buf b = {0};
    url_field(&b, t);
    if (kind == GL_TAP_BYTES) { /* one stream: a key split between reads waits for the next */
        gl_trace_data(&t->rs, "http_chunk", b.p, p, len);
        gl_buf_free(&b);
        return;
    }
    char num[64];
    snprintf(num, sizeof num, ",\"opcode\":\"%s\",\"len\":%zu,\"data\":", kind == GL_TAP_BINARY ? "binary" : "text",
             len);
    gl_buf_adds(&b, num);
    size_t rn; /* redact the whole message first: a cut could leave part of a key */
    char *red = gl_redact(p, len, &rn);
    gl_buf_json_str(&b, red, rn > WS_TRACE_MAX ? WS_TRACE_MAX : rn);
    if (rn > WS_TRACE_MAX) gl_buf_adds(&b, ",\"truncated\":true");
    free(red);
    gl_trace_record(dir == GL_TAP_SEND ? "ws_send" : "ws_recv", b.p);
    gl_buf_free(&b);
}

void gl_tap_note(gl_tap *t, const char *kind, const char *fields_json) {
    if (!t || !gl_trace_on()) return;
    gl_buf b = {0};
    url_field(&b, t);
    if (fields_json) gl_buf_adds(&b, fields_json);
    gl_trace_record(kind, b.p);
    gl_buf_free(&b);
}

void gl_tap_field(gl_tap *t, const char *key, const char *value) {
    if (t) gl_rec_field(t->rec, key, value);
}

/* what a byte stream still holds back */
static void flush_stream(gl_tap *t) {
    if (!t->rs.held.len) {
        gl_redstream_free(&t->rs);
        return;
    }
    gl_buf b = {0};
    url_field(&b, t);
    gl_trace_data_end(&t->rs, "http_chunk", b.p);
    gl_buf_free(&b);
}

void gl_tap_end(gl_tap *t, int result, const char *error, const char *error_kind, int close_code, const char *reason,
                long status) {
    if (!t || t->ended) return;
    t->ended = 1;
    if (error_kind) gl_rec_field(t->rec, "error_kind", error_kind);
    gl_rec_end(t->rec, result, error, close_code, reason);
    t->rec = NULL;
    if (t->transport == GL_TAP_HTTP) {
        flush_stream(t);
        if (!gl_trace_on()) return;
        char f[96];
        gl_buf b = {0};
        url_field(&b, t);
        snprintf(f, sizeof f, ",\"status\":%ld,\"curl\":%d", status, result);
        gl_buf_adds(&b, f);
        gl_trace_record("http_done", b.p);
        gl_buf_free(&b);
    } else if (error && gl_trace_on()) {
        gl_buf b = {0};
        url_field(&b, t);
        gl_buf_adds(&b, ",\"error_kind\":");
        gl_buf_json_str(&b, error_kind ? error_kind : "", error_kind ? strlen(error_kind) : 0);
        gl_buf_adds(&b, ",\"message\":");
        gl_buf_json_str(&b, error, strlen(error));
        gl_trace_record("ws_error", b.p);
        gl_buf_free(&b);
    }
}

void gl_tap_free(gl_tap *t) {
    if (!t) return;
    gl_rec_abandon(t->rec);
    flush_stream(t);
    free(t->url);
    free(t);
}
