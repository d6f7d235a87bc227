/*
 * ws_conn.h — internal to the WebSocket client: the connection state that
 * ws.c (the Lua side) and ws_lws.c (the libwebsockets side) share.
 *
 * A connection is two objects: the Lua userdata (a pointer) and this C
 * state, which outlives the userdata until lws has destroyed its wsi, so a
 * late callback never touches freed memory (ws_conn_maybe_free).
 */
#ifndef GL_WS_CONN_H
#define GL_WS_CONN_H

#include "gl.h"
#include "ws_reasm.h"
#include "ws_url.h"
#include "tap.h"

#include "lazy_lws.h"   /* <libwebsockets.h>; the library is opened on first use */
#include <arpa/inet.h>
#include <netdb.h>

#define WS_FRAG      (64 * 1024)      /* outgoing frame size */

enum { ST_CONNECTING, ST_OPEN, ST_FAILED, ST_CLOSED };
enum { PH_DNS, PH_DNS_DONE, PH_LWS, PH_PLAY };

typedef struct ws_msg {
    struct ws_msg *next;
    int binary;
    size_t len, off;       /* off: bytes already written (outgoing) */
    unsigned char *data;   /* outgoing: data = inl + LWS_PRE (or buf + LWS_PRE) */
    unsigned char *buf;    /* a separate block (a reassembled message), or NULL */
    unsigned char inl[];   /* the bytes, in the same allocation (one malloc) */
} ws_msg;

typedef struct ws_conn {
    /* lifetime: freed when all four are gone */
    int lua_alive, wsi_alive, timers_open, dns_pending;   /* timers_open: t_recv, t_misc, p_flow */

    struct lws *wsi;
    int state, phase;
    ws_url u;
    char *url_redacted, *path_redacted;
    char proxy[300];
    char addr[INET6_ADDRSTRLEN];
    char **hdr_names, **hdr_values;
    int nhdr;
    char *protocols;
    int insecure;

    /* sticky error */
    char err_kind[16];
    char *err_msg;
    int err_status, close_code;
    char *close_reason;
    int peer_closed;
    int hs_sent;           /* the upgrade request went out */
    char *location;        /* a 3xx answer's Location, redacted (never followed) */
    const char *violation; /* what the server broke in RFC 6455 (static text) */

    /* incoming */
    ws_msg *in_head, *in_tail;
    size_t in_count, in_bytes, queue_max, queue_bytes_max, in_hiwater;
    ws_reasm frag;         /* the message being received */
    int rx_paused;
    /* The queue's bounds are checked before the loop polls again (p_flow,
     * a prepare handle: after the woken reader ran), so a reader that keeps
     * up never pauses the socket; see ws_deliver. */
    uv_prepare_t p_flow;
    size_t max_message;

    /* outgoing */
    ws_msg *out_head, *out_tail;
    size_t out_count, out_bytes, out_bytes_max;
    int close_req, close_req_code, local_code;
    char close_req_reason[124];
    size_t close_req_len;
    int ping_due;

    /* counters */
    unsigned long long msgs_in, msgs_out, bytes_in, bytes_out, rx_pauses;

    gl_waiter w_conn, w_recv, w_send;
    uv_timer_t t_recv, t_misc;
    int recv_timed_out;
    double timeout, idle_timeout, ping_interval;
    uint64_t last_rx, last_ping;
    uv_getaddrinfo_t dns;
    uv_loop_t *loop;
    gl_tap *tap;           /* --trace and --record: this session (tap.h) */
    struct ws_play *play;  /* --replay: this session (ws_play.c), no wsi */
    int hs_slot;           /* holds one of the handshake slots */
    int hs_waiting;        /* queued for a slot */
    struct ws_conn *hs_next;
} ws_conn;

/* ---- ws_lws.c ---------------------------------------------------------- */

void ws_msg_free_list(ws_msg *m);
/* Free c once the Lua side, the wsi, the timers and a DNS request are gone. */
void ws_conn_maybe_free(ws_conn *c);
void ws_wake_all(ws_conn *c);
/* Record the first failure (sticky) and wake every waiter. */
void ws_conn_fail(ws_conn *c, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ask lws to drop the wsi, from outside its callbacks. */
void ws_conn_kill(ws_conn *c);
const char *ws_proxy_shown(const ws_conn *c);

/* A whole message from the server (data malloc'd, owned from now on):
 * trace, record, queue (pausing the source when full), wake the reader. */
void ws_deliver(ws_conn *c, unsigned char *data, size_t len, int binary);
/* The same for a message lws handed over whole: one allocation, a copy. */
void ws_deliver_copy(ws_conn *c, const void *data, size_t len, int binary);
/* Before the loop polls: pause the socket if the queue is over a bound. */
void ws_flow_check(uv_prepare_t *h);

struct lws_context *ws_lws_context(uv_loop_t *loop, char *err, size_t errlen);
struct lws_vhost *ws_lws_vhost(const char *proxy, int tls, char *err, size_t errlen);
void ws_lws_start(ws_conn *c, struct lws_vhost *vh);
/* At Lua state close: destroy the context and let lws close its handles. */
void ws_lws_teardown(void);
/* Second step of the teardown (also registered with atexit). */
void gl_ws_shutdown(void);

/* ---- ws_play.c (--replay) ---------------------------------------------- */

void ws_play_connect(lua_State *L, ws_conn *c, const char *url);
int ws_play_sent(lua_State *L, ws_conn *c, const char *data, size_t len);
int ws_play_recv(lua_State *L, ws_conn *c);
void ws_play_schedule(ws_conn *c);
void ws_play_free(struct ws_play *p);

#endif
