/*
 * curl_uv.c — libcurl's multi interface on the libuv loop (the shape of
 * curl's docs/examples/multi-uv.c): curl tells which sockets to watch and
 * when to time out; libuv polls them and calls curl back; a finished
 * transfer is handed to the done callback.
 */
#include "http_req.h"

#include <stdlib.h>
#include <openssl/crypto.h>

static CURLM *multi;
static uv_timer_t multi_timer;
static uv_loop_t *mloop;

typedef struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
} sock_ctx;

static void (*on_done)(CURL *e, CURLcode result);

static void check_info(void) {
    CURLMsg *msg;
    int pending;
    while ((msg = curl_multi_info_read(multi, &pending))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result; /* read before remove_handle frees msg */
        curl_multi_remove_handle(multi, e);
        on_done(e, res);
    }
}

static void poll_cb(uv_poll_t *p, int status, int events) {
    sock_ctx *c = p->data;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(multi, c->fd, flags, &running);
    check_info();
}

static void free_ctx(uv_handle_t *h) { free(h->data); }

static int socket_cb(CURL *e, curl_socket_t s, int action, void *userp, void *socketp) {
    (void)e;
    (void)userp;
    sock_ctx *c = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, free_ctx);
            curl_multi_assign(multi, s, NULL);
        }
        return 0;
    }
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return -1;
        c->fd = s;
        if (uv_poll_init_socket(mloop, &c->poll, s) != 0) {
            free(c);
            return -1;
        }
        c->poll.data = c;
        curl_multi_assign(multi, s, c);
    }
    int ev = 0;
    if (action & CURL_POLL_IN) ev |= UV_READABLE;
    if (action & CURL_POLL_OUT) ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, poll_cb);
    return 0;
}

static void on_multi_timeout(uv_timer_t *t) {
    (void)t;
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_info();
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
    (void)m;
    (void)userp;
    if (timeout_ms < 0)
        uv_timer_stop(&multi_timer);
    else
        uv_timer_start(&multi_timer, on_multi_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

void gl_curl_init(uv_loop_t *loop, void (*done)(CURL *e, CURLcode result)) {
    if (multi) return;
    on_done = done;
    /* OpenSSL's own atexit cleanup only frees memory the process is about
     * to give back anyway (~0.5 M instructions at every exit): skip it */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mloop = loop;
    multi = curl_multi_init();
    uv_timer_init(mloop, &multi_timer);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
}

void gl_http_shutdown(void) {
    if (!multi) return;
    curl_multi_cleanup(multi);
    multi = NULL;
    uv_close((uv_handle_t *)&multi_timer, NULL);
    curl_global_cleanup();
}

int gl_curl_add(CURL *e) { return curl_multi_add_handle(multi, e) == CURLM_OK ? 0 : -1; }

void gl_curl_remove(CURL *e) { curl_multi_remove_handle(multi, e); }
