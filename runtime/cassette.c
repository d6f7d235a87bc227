/*
 * cassette.c — `glrun --record DIR` and `glrun --replay DIR`.
 *
 * Recording: every HTTP exchange (and, through the same calls, every
 * WebSocket connection) is written as one JSON file DIR/NNNN-KIND.json:
 *   {"kind":"http","request":{"method","url","headers":[...],"body"},
 *    "response":{"status","headers"},"events":[{"t":secs,"dir":"recv","data"|"b64"},...],
 *    "result":curl code,"error":msg}
 * times relative to the start of the exchange; secrets redacted (so a
 * cassette can be shared). Bytes that are not UTF-8 are stored as "b64".
 *
 * Replaying: the cassette is loaded by lua/glrun/cassette.lua; the
 * transports ask it for the exchange matching a request (method, URL path
 * and query with secrets redacted, body) and serve the recorded bytes with
 * the recorded timing instead of touching the network.
 */
#include "gl.h"
#include "cassette.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *record_dir;
static int record_seq;
static int replaying;

struct gl_rec {
    uint64_t t0;
    gl_buf extra;  /* ,"key":"value" ... */
    char kind[16];
    gl_buf head;   /* "request":{...} */
    gl_buf resp;   /* "response":{...} */
    gl_buf events; /* [...] items */
};

int gl_cassette_record_to(const char *dir) {
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
    record_dir = strdup(dir);
    return record_dir ? 0 : -1;
}

void gl_cassette_set_replaying(int on) { replaying = on; }
int gl_cassette_replaying(void) { return replaying; }
int gl_cassette_recording(void) { return record_dir != NULL; }

void gl_cassette_free(void) {
    free(record_dir);
    record_dir = NULL;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) { i++; continue; }
        size_t k = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
        if (k == 0 || i + k >= n) return 0;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

#include <openssl/evp.h>

/* "data":"..." or "b64":"..." */
static void add_bytes(gl_buf *b, const char *p, size_t len) {
    if (valid_utf8((const unsigned char *)p, len)) {
        gl_buf_adds(b, "\"data\":");
        gl_buf_json_str(b, p, len);
        return;
    }
    size_t out = 4 * ((len + 2) / 3) + 1;
    unsigned char *enc = malloc(out);
    if (!enc) abort();
    int n = EVP_EncodeBlock(enc, (const unsigned char *)p, (int)len);
    gl_buf_adds(b, "\"b64\":\"");
    gl_buf_add(b, enc, (size_t)n);
    gl_buf_adds(b, "\"");
    free(enc);
}

gl_rec *gl_rec_begin(const char *kind, const char *method, const char *url, const char *headers_json,
                     const char *body, size_t body_len) {
    if (!record_dir) return NULL;
    gl_rec *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->t0 = uv_hrtime();
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    gl_buf_adds(&r->head, "\"request\":{\"method\":");
    gl_buf_json_str(&r->head, method, strlen(method));
    gl_buf_adds(&r->head, ",\"url\":");
    gl_buf_json_str(&r->head, url, strlen(url));
    gl_buf_adds(&r->head, ",\"headers\":[");
    if (headers_json) gl_buf_adds(&r->head, headers_json);
    gl_buf_adds(&r->head, "]");
    if (body) {
        gl_buf_adds(&r->head, ",");
        add_bytes(&r->head, body, body_len);
    }
    gl_buf_adds(&r->head, "}");
    return r;
}

void gl_rec_response(gl_rec *r, long status, const char *headers, size_t len) {
    if (!r) return;
    char s[64];
    r->resp.len = 0;
    snprintf(s, sizeof s, "\"response\":{\"status\":%ld,\"headers\":", status);
    gl_buf_adds(&r->resp, s);
    gl_buf_json_str(&r->resp, headers ? headers : "", headers ? len : 0);
    char t[48];
    snprintf(t, sizeof t, ",\"t\":%.6f}", (uv_hrtime() - r->t0) / 1e9);
    gl_buf_adds(&r->resp, t);
}

void gl_rec_event(gl_rec *r, const char *dir, const char *type, const char *p, size_t len) {
    if (!r) return;
    char s[96];
    snprintf(s, sizeof s, "%s{\"t\":%.6f,\"dir\":\"%s\"", r->events.len ? ",\n" : "", (uv_hrtime() - r->t0) / 1e9,
             dir);
    gl_buf_adds(&r->events, s);
    if (type) {
        gl_buf_adds(&r->events, ",\"type\":");
        gl_buf_json_str(&r->events, type, strlen(type));
    }
    gl_buf_adds(&r->events, ",");
    add_bytes(&r->events, p, len);
    gl_buf_adds(&r->events, "}");
}

void gl_rec_field(gl_rec *r, const char *key, const char *value) {
    if (!r) return;
    gl_buf_adds(&r->extra, ",");
    gl_buf_json_str(&r->extra, key, strlen(key));
    gl_buf_adds(&r->extra, ":");
    gl_buf_json_str(&r->extra, value, strlen(value));
}

void gl_rec_end(gl_rec *r, int result, const char *error, int close_code, const char *reason) {
    if (!r) return;
    gl_buf b = {0};
    gl_buf_adds(&b, "{\"kind\":");
    gl_buf_json_str(&b, r->kind, strlen(r->kind));
    gl_buf_adds(&b, ",");
    gl_buf_add(&b, r->head.p, r->head.len);
    if (r->resp.len) {
        gl_buf_adds(&b, ",");
        gl_buf_add(&b, r->resp.p, r->resp.len);
    }
    gl_buf_adds(&b, ",\"events\":[\n");
    if (r->events.len) gl_buf_add(&b, r->events.p, r->events.len);
    char s[128];
    snprintf(s, sizeof s, "],\"result\":%d,\"t\":%.6f", result, (uv_hrtime() - r->t0) / 1e9);
    gl_buf_adds(&b, s);
    if (close_code) {
        snprintf(s, sizeof s, ",\"close_code\":%d", close_code);
        gl_buf_adds(&b, s);
    }
    if (reason) {
        gl_buf_adds(&b, ",\"reason\":");
        gl_buf_json_str(&b, reason, strlen(reason));
    }
    if (error) {
        gl_buf_adds(&b, ",\"error\":");
        gl_buf_json_str(&b, error, strlen(error));
    }
    if (r->extra.len) gl_buf_add(&b, r->extra.p, r->extra.len);
    gl_buf_adds(&b, "}\n");
    size_t n;
    char *red = gl_redact(b.p, b.len, &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%04d-%s.json", record_dir, ++record_seq, r->kind);
    FILE *f = fopen(path, "w");
    if (f) {
        fwrite(red, 1, n, f);
        fclose(f);
    } else {
        gl_log(GL_LOG_ERROR, "record", "cannot write %s: %s", path, strerror(errno));
    }
    free(red);
    gl_buf_free(&b);
    gl_buf_free(&r->head);
    gl_buf_free(&r->resp);
    gl_buf_free(&r->events);
    gl_buf_free(&r->extra);
    free(r);
}

void gl_rec_abandon(gl_rec *r) {
    if (!r) return;
    gl_rec_end(r, -1, "abandoned before the end (closed by the script)", 0, NULL);
}

/* ---- replay: ask lua/glrun/cassette.lua for the matching exchange ---- */

int gl_play_match(lua_State *L, const char *kind, const char *method, const char *url, const char *body,
                  size_t body_len) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "glrun.cassette");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "match");
    lua_remove(L, -2);
    lua_pushstring(L, kind);
    lua_pushstring(L, method);
    lua_pushstring(L, url);
    if (body) lua_pushlstring(L, body, body_len);
    else lua_pushnil(L);
    lua_call(L, 4, 2); /* exchange | nil, message */
    if (lua_istable(L, -2)) {
        lua_pop(L, 1);
        return 1;
    }
    lua_remove(L, -2);
    return 0;
}
