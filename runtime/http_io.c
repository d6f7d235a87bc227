/*
 * http_io.c — the wire side of a glrun.http request: curl's callbacks
 * (response headers, body bytes into a buffer or the C SSE parser, upload
 * progress, a body read from a file) and the end of a transfer. No Lua
 * here: callbacks append, pause a consumer that falls behind
 * (CURL_WRITEFUNC_PAUSE) and call gl_wake(). The cassette player
 * (http_play.c) calls the same functions.
 */
#include "http_req.h"

#include <stdlib.h>
#include <string.h>

static int on_event(void *ud, const sse_event *ev) {
    http_req *r = ud;
    ev_node *n = malloc(sizeof *n + ev->data_len + ev->event_len + ev->id_len + 3);
    if (!n) return 1;
    n->next = NULL;
    n->not_chunk = 0;
    n->data_len = ev->data_len;
    n->event_len = ev->event_len;
    n->id_len = ev->id_len;
    memcpy(n->mem, ev->data, ev->data_len);
    n->mem[ev->data_len] = 0;
    n->event = n->mem + ev->data_len + 1;
    memcpy(n->event, ev->event, ev->event_len);
    n->event[ev->event_len] = 0;
    n->id = n->event + ev->event_len + 1;
    memcpy(n->id, ev->id, ev->id_len);
    n->id[ev->id_len] = 0;
    if (r->evq_tail)
        r->evq_tail->next = n;
    else
        r->evq_head = n;
    r->evq_tail = n;
    r->evq_bytes += ev->data_len + ev->event_len + ev->id_len;
    return 0;
}

size_t http_write_cb(char *p, size_t sz, size_t nmemb, void *ud) {
    http_req *r = ud;
    size_t len = sz * nmemb;
    r->t_rx = uv_now(r->loop);
    if (r->error_body || r->mode == M_FULL) {
        size_t limit = r->error_body ? MAX_ERROR_BODY : r->max_body;
        if (r->body.len + len > limit) {
            r->too_big = 1;
            return 0;
        }
        gl_buf_add(&r->body, p, len);
        gl_tap_data(r->tap, GL_TAP_RECV, GL_TAP_BYTES, p, len);
        return len;
    }
    if (r->mode == M_STREAM) {
        if (r->body.len - r->body_off >= HIGH_WATER) {
            r->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (r->body_off > 0 && r->body_off == r->body.len) r->body.len = r->body_off = 0;
        gl_buf_add(&r->body, p, len);
    } else {
        if (r->evq_bytes >= HIGH_WATER) {
            r->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        int rc = sse_feed(&r->sse, p, len, on_event, r, NULL);
        if (rc != SSE_OK) {
            r->sse_failed = rc;
            return 0;
        }
    }
    gl_tap_data(r->tap, GL_TAP_RECV, GL_TAP_BYTES, p, len);
    gl_wake(&r->waiter);
    return len;
}

size_t http_header_cb(char *p, size_t sz, size_t nmemb, void *ud) {
    http_req *r = ud;
    size_t len = sz * nmemb;
    r->t_rx = uv_now(r->loop);
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) r->resp_headers.len = 0; /* new response */
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        long st = r->play_status;
        if (r->easy) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st >= 100 && st < 200) return len; /* interim response */
        r->status = st;
        r->headers_done = 1;
        if (r->resp_headers.len) { /* server text enters here: no secret in err.headers, :headers() */
            size_t n;
            char *red = gl_redact(r->resp_headers.p, r->resp_headers.len, &n);
            r->resp_headers.len = 0;
            gl_buf_add(&r->resp_headers, red, n);
            free(red);
        }
        r->error_body = st >= 300; /* redirects are not followed: an error too */
        gl_tap_response(r->tap, st, r->resp_headers.p, r->resp_headers.len);
        gl_wake(&r->waiter);
        return len;
    }
    if (r->resp_headers.len + len > (1u << 20)) return 0;
    gl_buf_add(&r->resp_headers, p, len);
    return len;
}

/* Sending the request body is activity too: a large upload on a slow
 * link must not look idle. */
int http_xferinfo_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    http_req *r = ud;
    if (ulnow != r->ul_seen) {
        r->ul_seen = ulnow;
        r->t_rx = uv_now(r->loop);
    }
    return 0;
}

/* body_file: curl asks for the next bytes of the body; they come from the
 * file, a buffer at a time, so a file of gigabytes never sits in memory.
 * A file that ends early (shrunk since) aborts the transfer. */
size_t http_read_body_cb(char *buf, size_t size, size_t nitems, void *ud) {
    http_req *r = ud;
    size_t want = size * nitems;
    if ((curl_off_t)want > r->body_left) want = (size_t)r->body_left;
    if (want == 0) return 0;
    size_t got = fread(buf, 1, want, r->body_fp);
    if (got == 0) return CURL_READFUNC_ABORT;
    r->body_left -= (curl_off_t)got;
    return got;
}

/* curl finished the transfer of e (curl_uv.c calls this from the loop). */
void http_transfer_done(CURL *e, CURLcode res) {
    http_req *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    if (!r) return;
    r->in_multi = 0;
    r->result = res;
    r->state = S_DONE;
    gl_tap_end(r->tap, (int)res, res != CURLE_OK ? (r->errbuf[0] ? r->errbuf : curl_easy_strerror(res)) : NULL, NULL,
               0, NULL, r->status);
    gl_wake(&r->waiter);
}
