/*
 * server.h — internal to glrun.server: the state that the Lua side
 * (server.c), the connection side (server_conn.c: TCP, TLS, HTTP/1.1) and
 * the WebSocket side (server_ws.c) share.
 *
 * Lifetimes: a listener lives while its Lua handle, its listening socket or
 * any of its connections does; a connection lives while its uv handles are
 * open or a Lua handle (req, ws) points at it. Callbacks only move bytes,
 * change state and gl_wake(); Lua runs later, from the scheduler.
 */
#ifndef GL_SERVER_H
#define GL_SERVER_H

#include "gl.h"
#include "ws_reasm.h"

#include <http_parser.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define SRV_WBOUND     (64 * 1024)        /* write()/send() yield above this much queued */
#define SRV_STASH_MAX  (64 * 1024)        /* bytes read ahead of the next request */
#define SRV_WS_INQ_MAX (4 * 1024 * 1024)  /* received messages held before reading pauses */

typedef struct srv_listener srv_listener;
typedef struct srv_conn srv_conn;

struct srv_listener {
    uv_tcp_t tcp;
    int lua_alive, tcp_open, nconns;
    int closed;            /* srv:close() or a stop signal: no new requests */
    int stop_signals, stop_sig;
    SSL_CTX *tls;
    size_t max_body, max_ws_message, max_header, max_conns;
    size_t max_per_ip; /* open connections from one peer address at most (0: no limit) */
    int nopen;             /* connections open now (not closing) */
    double header_timeout;
    int port;
    char host[64];
    srv_conn *ready_head, *ready_tail;   /* complete requests waiting for accept() */
    srv_conn *conns;                     /* every connection */
    gl_waiter w_accept;
    unsigned long long accepted, requests, rejected, connections;
    size_t out_max;        /* high-water mark of any connection's queued output */
    srv_listener *next;    /* all listeners (server.c) */
};

enum { CP_HEAD, CP_READY, CP_HANDLER, CP_WS };             /* connection phase */
enum { RS_NONE, RS_STREAM, RS_DONE };                      /* response state */
enum { WSS_OPEN, WSS_CLOSING, WSS_CLOSED };                /* ws state */

typedef struct srv_msg {
    struct srv_msg *next;
    int binary;
    size_t len;
    unsigned char *data;
} srv_msg;

struct srv_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    srv_listener *l;
    srv_conn *next, *prev, *ready_next;
    int handles_open, lua_refs, closing, gone, reading, linger, counted;
    char peer[INET6_ADDRSTRLEN];
    unsigned gen;          /* which request of the connection (keep-alive) */
    int phase;

    /* TLS */
    SSL *ssl;
    BIO *rbio, *wbio;

    /* the request being parsed */
    http_parser p;
    gl_buf url, hname, hval, body, stash;
    char **hn, **hv;
    int nh, hcap, last_value, got_bytes;
    size_t hbytes;
    int reject;            /* a status C answers itself (400, 413, 431) */
    int msg_done, is_ws, keep_alive, head_req, expect_sent;
    char method[24];

    /* the response */
    int rstate, chunked, close_after;
    size_t out_pending, out_max;
    unsigned long long bytes_out;
    gl_waiter w_write, w_recv;

    /* req:wait_closed(): woken when the client goes (srv_conn_close) or the
     * request ends (srv_req_ended); req_done: it ended while the client was
     * still there. The timer of a timeout is the connection's own, free
     * while a handler answers. */
    gl_waiter w_close;
    int req_done, close_timer_on, close_timed_out;

    /* WebSocket */
    int ws_state, ws_err;
    ws_reasm frag;
    unsigned char fh[14];
    size_t fh_len, fh_need;
    uint64_t pay_left;
    int op, fin, msg_op;
    unsigned char mask[4];
    unsigned mask_off;
    unsigned char ctl[128];
    size_t ctl_len;
    srv_msg *in_head, *in_tail;
    size_t in_count, in_bytes;
    int rx_paused;
    int close_code, peer_closed;
    int recv_timed_out, recv_timer_on;     /* ws:recv(timeout) */
    char *close_reason;
    unsigned long long msgs_in, msgs_out;
};

/* ---- server_conn.c: sockets, TLS, output ------------------------------ */
int srv_listen_start(srv_listener *l, char *err, size_t errlen);
void srv_listener_close(srv_listener *l, int status_for_ready);
void srv_listener_maybe_free(srv_listener *l);
void srv_listener_unlink(srv_listener *l);          /* server.c */
void srv_conn_close(srv_conn *c);
void srv_conn_maybe_free(srv_conn *c);
/* Queue bytes for the peer (TLS-encrypted when on); 0, or -1 if gone. */
int srv_conn_send(srv_conn *c, const void *p, size_t n);
/* Close once everything queued has been written. */
void srv_conn_close_after_flush(srv_conn *c);
void srv_head_timer_start(srv_conn *c);
void srv_read_start(srv_conn *c);

/* ---- server_http.c: requests ------------------------------------------- */
void srv_http_init(void);
/* Plaintext from the client: parse, stash, or hand to the WebSocket side. */
void srv_conn_feed(srv_conn *c, char *p, size_t n);
void srv_request_free(srv_conn *c);
void srv_ready_remove(srv_conn *c);
/* The handler is done with this request: next request (keep-alive) or close. */
void srv_request_done(srv_conn *c);
/* Answer in C (small body, Connection: close). */
void srv_conn_reply(srv_conn *c, int status, const char *body);
const char *srv_status_text(int status);
srv_conn *srv_accept_pop(srv_listener *l);

/* ---- server_ws.c ------------------------------------------------------- */
void srv_ws_feed(srv_conn *c, unsigned char *p, size_t n);
int srv_ws_send_frame(srv_conn *c, int opcode, const void *p, size_t n);
void srv_ws_close(srv_conn *c, int code, const char *reason, size_t rlen);
void srv_ws_accept_key(const char *key, char out[32]);
void srv_ws_free(srv_conn *c);
void srv_ws_resume_rx(srv_conn *c);
int luaopen_glrun_server_ws(lua_State *L);   /* registers the ws metatable */
int srv_ws_push(lua_State *L, srv_conn *c);   /* a new ws handle for c */

/* The request being answered ended (answered, upgraded, or answered by C):
 * req:wait_closed() returns false from now on. Any timer of its timeout is
 * the connection's again (the caller may restart or stop it). */
static inline void srv_req_ended(srv_conn *c)
{
    if (!c->gone) c->req_done = 1;
    c->close_timer_on = 0;
    gl_wake(&c->w_close);
}

/* ---- server_req.c: the request handle ---------------------------------- */
int srv_req_push(lua_State *L, srv_conn *c);   /* a new req handle for c */
void srv_req_open(lua_State *L);               /* registers its metatable */

/* ---- server.c: the module, the listener handle ------------------------- */
int luaopen_glrun_server(lua_State *L);

#endif
