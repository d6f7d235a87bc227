/*
 * http_req.h — internal to glrun.http: the request handle that http.c (its
 * Lua API), http_io.c (curl's callbacks), http_error.c (error values),
 * http_play.c (the cassette player) and curl_uv.c (curl on the loop) share.
 */
#ifndef GL_HTTP_REQ_H
#define GL_HTTP_REQ_H

#include "gl.h"
#include "sse.h"
#include "cassette.h"
#include "tap.h"

#include <curl/curl.h>
#include <stdio.h>

#define REQ_MT            "glrun.http.request"
#define HIGH_WATER        (1u << 20) /* bytes queued before pausing */
#define MAX_ERROR_BODY    (4u << 20)
#define DEFAULT_MAX_BODY  (256u << 20)
#define DEFAULT_MAX_EVENT (64u << 20)

enum { M_FULL, M_STREAM, M_SSE };
enum { S_NEW, S_RUNNING, S_DONE };

typedef struct ev_node {
    struct ev_node *next;
    size_t data_len, event_len, id_len;
    int not_chunk;    /* _chunks: jsondec_chunk_scan said no (do not scan twice) */
    char *event, *id; /* point into mem */
    char mem[];       /* data \0 event \0 id \0 */
} ev_node;

typedef struct http_req {
    CURL *easy;
    uv_loop_t *loop;
    struct curl_slist *hdrs;
    int mode, state, in_multi, closed;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    long status;
    int headers_done, error_body, paused, too_big;
    gl_buf resp_headers;
    gl_buf body;
    size_t body_off;
    size_t max_body;
    sse_parser sse;
    int sse_ready, sse_failed;
    ev_node *evq_head, *evq_tail;
    size_t evq_bytes;
    unsigned long events; /* delivered to Lua */
    int decode;
    int chunks; /* gemini.rest.stream's fast path: jsondec_chunk_scan before decoding */
    gl_waiter waiter;
    uv_timer_t *timer;              /* idle timeout and deadline while a consumer waits */
    double timeout;                 /* idle: seconds without a byte */
    double deadline;                /* seconds for the whole request (0: none) */
    uint64_t t_start, t_rx, t_wait; /* loop ms: start, last byte, wait began */
    curl_off_t ul_seen;             /* bytes sent: upload progress counts as activity */
    FILE *body_fp;                  /* body_file: the body streams from here (read_body_cb) */
    curl_off_t body_left;           /* body_file: bytes still to send */
    int timed_out;                  /* 1 idle, 2 deadline */
    char method[16];
    char *url;             /* redacted, for messages */
    gl_tap *tap;           /* --trace and --record: this exchange (tap.h) */
    /* --replay: the recorded exchange served instead of the network */
    struct play_ev {
        double t;
        const char *p;
        size_t len;
    } * play;
    size_t play_n, play_i;
    uv_timer_t *play_timer;
    uint64_t play_t0;
    double play_resp_t, play_end_t;
    long play_status;
    int play_has_resp, play_result;
    char *play_fail; /* no recorded exchange matched: why */
    const char *play_headers;
    size_t play_headers_len;
} http_req;

/* curl_uv.c: libcurl's multi interface driven by the libuv loop. done(e,
 * result) runs (from the loop, never inside curl) when a transfer ends. */
void gl_curl_init(uv_loop_t *loop, void (*done)(CURL *e, CURLcode result));
int gl_curl_add(CURL *e);
void gl_curl_remove(CURL *e);
void gl_http_shutdown(void);

/* http_io.c: curl's callbacks (no Lua there) and the end of a transfer */
size_t http_write_cb(char *p, size_t sz, size_t nmemb, void *ud);
size_t http_header_cb(char *p, size_t sz, size_t nmemb, void *ud);
int http_xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
size_t http_read_body_cb(char *buf, size_t size, size_t nitems, void *ud);
void http_transfer_done(CURL *e, CURLcode result);

/* http_error.c: error values (pushed on the stack) */
void http_set_common(lua_State *L, int idx, http_req *r);
int http_push_curl_error(lua_State *L, http_req *r);
void http_push_headers(lua_State *L, http_req *r);
int http_push_status_error(lua_State *L, http_req *r, long status, const char *raw, size_t rawlen, int midstream);

/* http_play.c: --replay serves the recorded exchange through http_io.c */
void http_play_start(lua_State *L, http_req *r, const char *method, const char *url, const char *body, size_t body_len);
void http_resume(http_req *r);
void http_play_release(http_req *r);

#endif
