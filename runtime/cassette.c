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
 * The bytes are kept as they came until the exchange ends, then redacted
 * before they are encoded: an HTTP response as one stream (a secret split
 * between two network reads is replaced in the first, the events keeping
 * their times), a WebSocket message as itself.
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

struct rec_ev {
    double t;
    int dir;            /* 0 send, 1 recv */
    char type[8];       /* "text", "binary" or "" */
    size_t end;         /* where its bytes end in raw[dir] */
};

struct gl_rec {
    uint64_t t0;
    int seq;       /* numbered when it begins: replay matches in that order */
    gl_buf extra;  /* ,"key":"value" ... */
    char kind[16];
    gl_buf head;   /* "request":{...} */
    gl_buf resp;   /* "response":{...} */
    gl_buf raw[2]; /* the bytes of every event, as they came, per direction */
    struct rec_ev *ev;
    size_t nev, capev;
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

/* "data":"..." or "b64":"..." of bytes already redacted */
static void add_bytes(gl_buf *b, const char *p, size_t len) {
    if (valid_utf8((const unsigned char *)p, len)) {
        gl_buf_adds(b, "\"data\":");
        gl_buf_json_str(b, p, len);
        return;
    }
    char *enc = malloc(4 * ((len + 2) / 3) + 1);
    if (!enc) abort();
    size_t n = gl_b64_encode(enc, p, len, 0);
    gl_buf_adds(b, "\"b64\":\"");
    gl_buf_add(b, enc, n);
    gl_buf_adds(b, "\"");
    free(enc);
}

/* A JSON string of s, redacted before it is encoded. */
static void add_redacted_str(gl_buf *b, const char *s) {
    size_t n;
    char *red = gl_redact(s, strlen(s), &n);
    gl_buf_json_str(b, red, n);
    free(red);
}

gl_rec *gl_rec_begin(const char *kind, const char *method, const char *url, const char *headers_json,
                     const char *body, size_t body_len) {
    if (!record_dir) return NULL;
    gl_rec *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->t0 = uv_hrtime();
    r->seq = ++record_seq;
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    gl_buf_adds(&r->head, "\"request\":{\"method\":");
    gl_buf_json_str(&r->head, method, strlen(method));
    gl_buf_adds(&r->head, ",\"url\":");
    gl_buf_json_str(&r->head, url, strlen(url));
    gl_buf_adds(&r->head, ",\"headers\":[");
    if (headers_json) gl_buf_adds(&r->head, headers_json);
    gl_buf_adds(&r->head, "]");
    if (body) {
        size_t n;
        char *red = gl_redact(body, body_len, &n);
        gl_buf_adds(&r->head, ",");
        add_bytes(&r->head, red, n);
        free(red);
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
    size_t n;
    char *red = gl_redact(headers ? headers : "", headers ? len : 0, &n);
    gl_buf_json_str(&r->resp, red, n);
    free(red);
    char t[48];
    snprintf(t, sizeof t, ",\"t\":%.6f}", (uv_hrtime() - r->t0) / 1e9);
    gl_buf_adds(&r->resp, t);
}

void gl_rec_event(gl_rec *r, const char *dir, const char *type, const char *p, size_t len) {
    if (!r) return;
    if (r->nev == r->capev) {
        size_t cap = r->capev ? r->capev * 2 : 16;
        struct rec_ev *ev = realloc(r->ev, cap * sizeof *ev);
        if (!ev) abort();
        r->ev = ev;
        r->capev = cap;
    }
    struct rec_ev *e = &r->ev[r->nev++];
    e->t = (uv_hrtime() - r->t0) / 1e9;
    e->dir = strcmp(dir, "send") == 0 ? 0 : 1;
    snprintf(e->type, sizeof e->type, "%s", type ? type : "");
    gl_buf_add(&r->raw[e->dir], p, len);
    e->end = r->raw[e->dir].len;
}

/* The events, each one's bytes redacted before they are encoded. */
static void add_events(gl_buf *b, gl_rec *r) {
    int per_message = strcmp(r->kind, "ws") == 0;
    char *red[2] = {NULL, NULL};
    size_t *cut[2] = {NULL, NULL};
    if (!per_message) {
        for (int d = 0; d < 2; d++) {
            size_t n = 0, k = 0;
            for (size_t i = 0; i < r->nev; i++) n += r->ev[i].dir == d;
            size_t *in = malloc((n + 1) * sizeof *in);
            cut[d] = malloc((n + 1) * sizeof *cut[d]);
            if (!in || !cut[d]) abort();
            for (size_t i = 0; i < r->nev; i++)
                if (r->ev[i].dir == d) in[k++] = r->ev[i].end;
            red[d] = gl_redact_cuts(r->raw[d].p ? r->raw[d].p : "", r->raw[d].len, in, cut[d], n, NULL);
            free(in);
        }
    }
    size_t k[2] = {0, 0}, start[2] = {0, 0};
    for (size_t i = 0; i < r->nev; i++) {
        struct rec_ev *e = &r->ev[i];
        int d = e->dir;
        char s[96];
        snprintf(s, sizeof s, "%s{\"t\":%.6f,\"dir\":\"%s\"", i ? ",\n" : "", e->t, d ? "recv" : "send");
        gl_buf_adds(b, s);
        if (e->type[0]) {
            gl_buf_adds(b, ",\"type\":");
            gl_buf_json_str(b, e->type, strlen(e->type));
        }
        gl_buf_adds(b, ",");
        if (per_message) {
            size_t n;
            char *m = gl_redact(r->raw[d].p + start[d], e->end - start[d], &n);
            add_bytes(b, m, n);
            free(m);
            start[d] = e->end;
        } else {
            size_t to = cut[d][k[d]++];
            add_bytes(b, red[d] + start[d], to - start[d]);
            start[d] = to;
        }
        gl_buf_adds(b, "}");
    }
    for (int d = 0; d < 2; d++) {
        free(red[d]);
        free(cut[d]);
    }
}

void gl_rec_field(gl_rec *r, const char *key, const char *value) {
    if (!r) return;
    gl_buf_adds(&r->extra, ",");
    gl_buf_json_str(&r->extra, key, strlen(key));
    gl_buf_adds(&r->extra, ":");
    add_redacted_str(&r->extra, value);
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
    add_events(&b, r);
    char s[128];
    snprintf(s, sizeof s, "],\"result\":%d,\"t\":%.6f", result, (uv_hrtime() - r->t0) / 1e9);
    gl_buf_adds(&b, s);
    if (close_code) {
        snprintf(s, sizeof s, ",\"close_code\":%d", close_code);
        gl_buf_adds(&b, s);
    }
    if (reason) {
        gl_buf_adds(&b, ",\"reason\":");
        add_redacted_str(&b, reason);
    }
    if (error) {
        gl_buf_adds(&b, ",\"error\":");
        add_redacted_str(&b, error);
    }
    if (r->extra.len) gl_buf_add(&b, r->extra.p, r->extra.len);
    gl_buf_adds(&b, "}\n");
    size_t n;
    char *red = gl_redact(b.p, b.len, &n);
    char path[4096];
    snprintf(path, sizeof path, "%s/%04d-%s.json", record_dir, r->seq, r->kind);
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
    gl_buf_free(&r->raw[0]);
    gl_buf_free(&r->raw[1]);
    free(r->ev);
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
