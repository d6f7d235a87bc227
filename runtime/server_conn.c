/*
 * server_conn.c — glrun.server's connections: the listening socket, TCP
 * (and TLS through OpenSSL memory BIOs) on the scheduler's libuv loop, the
 * output queue whose size write() and send() bound, the header timer, and
 * orderly close (flush, shut down our side, read what the peer still sends
 * for a moment, close). HTTP itself is server_http.c.
 *
 * Why not libwebsockets' server role: its 4.1 request parser rewrites the
 * request target (percent-decoding, "//" collapsed to "/", the query split
 * at '&' and decoded), and the gateway needs the target exactly as sent.
 *
 * While a handler answers, the socket is still read, so a client that goes
 * away is seen at once.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char rbuf[64 * 1024];          /* read buffer (one loop thread) */
static char pbuf[64 * 1024];          /* TLS plaintext */

typedef struct { uv_write_t w; srv_conn *c; size_t n; char data[]; } srv_wreq;

/* ---- lifetime ---------------------------------------------------------- */

void srv_conn_maybe_free(srv_conn *c)
{
    srv_listener *l = c->l;
    if (c->handles_open || c->lua_refs) return;
    if (c->prev) c->prev->next = c->next; else l->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    l->nconns--;
    srv_request_free(c);
    free(c->hn);
    free(c->hv);
    gl_buf_free(&c->stash);
    srv_ws_free(c);
    if (c->ssl) SSL_free(c->ssl);   /* frees both BIOs */
    free(c);
    srv_listener_maybe_free(l);
}

static void conn_handle_closed(uv_handle_t *h)
{
    srv_conn *c = h->data;
    c->handles_open--;
    srv_conn_maybe_free(c);
}

void srv_conn_close(srv_conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    c->gone = 1;
    if (c->counted) { c->counted = 0; c->l->nopen--; }
    if (c->phase == CP_READY) srv_ready_remove(c);
    if (c->phase == CP_WS && c->ws_state != WSS_CLOSED) {
        c->ws_state = WSS_CLOSED;
        if (!c->peer_closed && !c->close_code) c->close_code = 1006;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    gl_waiter_cancel(&c->w_write);
    gl_waiter_cancel(&c->w_recv);
    gl_waiter_cancel(&c->w_close);
}

/* ---- output ------------------------------------------------------------ */

static void do_shutdown(srv_conn *c);

static void on_write(uv_write_t *w, int status)
{
    srv_wreq *wr = (srv_wreq *)w;
    srv_conn *c = wr->c;
    c->out_pending -= wr->n;
    free(wr);
    if (status < 0) {           /* the peer went away (or we closed) */
        srv_conn_close(c);
        return;
    }
    if (c->out_pending <= SRV_WBOUND) gl_wake(&c->w_write);
    if (c->close_after == 2 && c->out_pending == 0) do_shutdown(c);
}

static int raw_write(srv_conn *c, const void *p, size_t n)
{
    srv_wreq *wr;
    uv_buf_t b;
    if (c->closing || c->gone) return -1;
    if (!n) return 0;
    wr = malloc(sizeof *wr + n);
    if (!wr) { srv_conn_close(c); return -1; }
    memcpy(wr->data, p, n);
    wr->c = c;
    wr->n = n;
    b = uv_buf_init(wr->data, (unsigned)n);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(wr);
        srv_conn_close(c);
        return -1;
    }
    c->out_pending += n;
    c->bytes_out += n;
    if (c->out_pending > c->out_max) c->out_max = c->out_pending;
    if (c->out_pending > c->l->out_max) c->l->out_max = c->out_pending;
    return 0;
}

static int flush_tls(srv_conn *c)
{
    int n;
    while ((n = BIO_read(c->wbio, pbuf, sizeof pbuf)) > 0)
        if (raw_write(c, pbuf, (size_t)n) < 0) return -1;
    return 0;
}

int srv_conn_send(srv_conn *c, const void *p, size_t n)
{
    if (c->closing || c->gone) return -1;
    if (!c->ssl) return raw_write(c, p, n);
    while (n > 0) {
        int k = n > (1u << 30) ? (1 << 30) : (int)n;
        int r = SSL_write(c->ssl, p, k);
        if (r <= 0) { srv_conn_close(c); return -1; }
        p = (const char *)p + r;
        n -= (size_t)r;
    }
    return flush_tls(c);
}

static void on_linger_timer(uv_timer_t *t)
{
    srv_conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    srv_conn *c = req->data;
    free(req);
    if (status < 0 || c->gone) { srv_conn_close(c); return; }
    /* read (and drop) what the peer still sends, so that our answer is not
     * lost to a reset; the peer's close or a short timer ends it */
    if (!c->closing) uv_timer_start(&c->timer, on_linger_timer, 2000, 0);
}

static void do_shutdown(srv_conn *c)
{
    uv_shutdown_t *req;
    if (c->closing || c->close_after == 3) return;
    c->close_after = 3;
    c->linger = 1;
    if (c->ssl) { SSL_shutdown(c->ssl); flush_tls(c); }
    if (c->closing) return;
    req = malloc(sizeof *req);
    if (!req) { srv_conn_close(c); return; }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        srv_conn_close(c);
    }
}

void srv_conn_close_after_flush(srv_conn *c)
{
    if (c->closing) return;
    if (c->close_after < 2) c->close_after = 2;
    c->linger = 1;
    if (c->out_pending == 0) do_shutdown(c);
}

/* ---- input ------------------------------------------------------------- */

static void on_head_timer(uv_timer_t *t)
{
    srv_conn *c = t->data;
    if (c->phase == CP_HEAD && c->got_bytes) {
        gl_log(GL_LOG_DEBUG, "server", "%s: request not complete after %g s", c->peer,
               c->l->header_timeout);
        srv_conn_reply(c, 408, "request timeout\n");
    } else if (c->phase == CP_HEAD) {
        srv_conn_close(c);           /* an idle connection */
    }
}

void srv_head_timer_start(srv_conn *c)
{
    uint64_t ms = (uint64_t)(c->l->header_timeout * 1000 + 0.5);
    if (c->closing) return;
    uv_timer_start(&c->timer, on_head_timer, ms ? ms : 1, 0);
}

static void alloc_cb(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)h; (void)want;
    *b = uv_buf_init(rbuf, sizeof rbuf);
}

static void tls_feed(srv_conn *c, const char *p, size_t n)
{
    if (BIO_write(c->rbio, p, (int)n) != (int)n) { srv_conn_close(c); return; }
    while (!c->closing) {
        static char plain[64 * 1024];     /* not pbuf: flush_tls uses that */
        int r = SSL_read(c->ssl, plain, sizeof plain), e;
        if (r > 0) {
            srv_conn_feed(c, plain, (size_t)r);
            continue;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e != SSL_ERROR_ZERO_RETURN)
            gl_log(GL_LOG_DEBUG, "server", "%s: TLS failed (%s)", c->peer,
                   SSL_is_init_finished(c->ssl) ? "after the handshake" : "handshake");
        flush_tls(c);
        srv_conn_close(c);
        return;
    }
    if (!c->closing) flush_tls(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    srv_conn *c = s->data;
    if (nread < 0) {                 /* EOF or error: the client is gone */
        srv_conn_close(c);
        return;
    }
    if (nread == 0 || c->closing) return;
    if (c->ssl) tls_feed(c, b->base, (size_t)nread);
    else srv_conn_feed(c, b->base, (size_t)nread);
}

void srv_read_start(srv_conn *c)
{
    if (c->reading || c->closing) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0) c->reading = 1;
}

void srv_ws_resume_rx(srv_conn *c)
{
    c->rx_paused = 0;
    srv_read_start(c);
}

/* ---- listening --------------------------------------------------------- */

/* the connections open from peer (this one included): a walk of the list,
 * only when a per-address limit is set */
static size_t from_peer(srv_listener *l, const char *peer)
{
    size_t n = 0;
    for (srv_conn *o = l->conns; o; o = o->next)
        if (o->counted && !o->closing && strcmp(o->peer, peer) == 0) n++;
    return n;
}

static void on_connection(uv_stream_t *s, int status)
{
    srv_listener *l = s->data;
    srv_conn *c;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (status < 0) return;
    c = calloc(1, sizeof *c);
    if (!c) return;
    c->l = l;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->next = l->conns;
    if (l->conns) l->conns->prev = c;
    l->conns = c;
    l->nconns++;
    if (uv_accept(s, (uv_stream_t *)&c->tcp) < 0 || l->closed) {
        srv_conn_close(c);
        return;
    }
    l->connections++;
    c->counted = 1;
    l->nopen++;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
    }
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    if (l->tls) {
        c->ssl = SSL_new(l->tls);
        c->rbio = BIO_new(BIO_s_mem());
        c->wbio = BIO_new(BIO_s_mem());
        if (!c->ssl || !c->rbio || !c->wbio) {
            SSL_free(c->ssl);               /* the BIOs are not its own yet */
            BIO_free(c->rbio);
            BIO_free(c->wbio);
            c->ssl = NULL;
            srv_conn_close(c);
            return;
        }
        SSL_set_bio(c->ssl, c->rbio, c->wbio);
        SSL_set_accept_state(c->ssl);
    }
    const char *limit = NULL;
    if (l->max_conns && (size_t)l->nopen > l->max_conns) limit = "max_connections";
    else if (l->max_per_ip && from_peer(l, c->peer) > l->max_per_ip) limit = "max_connections_per_ip";
    if (limit) {
        gl_log(GL_LOG_DEBUG, "server", "%s: refused: too many connections open (%s)", c->peer, limit);
        /* a refused connection lingers until its client has read the 503:
         * it must not count against the limits meanwhile (with a limit of
         * one, each refusal kept the next client out) */
        c->counted = 0;
        l->nopen--;
        if (c->ssl) { l->rejected++; srv_conn_close(c); }
        else srv_conn_reply(c, 503, "too many connections\n");
        return;
    }
    srv_head_timer_start(c);
    srv_read_start(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    srv_listener *l = h->data;
    l->tcp_open = 0;
    srv_listener_maybe_free(l);
}

int srv_listen_start(srv_listener *l, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, r;
    const char *host = strcmp(l->host, "localhost") ? l->host : "127.0.0.1";
    srv_http_init();
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, l->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, l->port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "cannot listen on %s: not a numeric IP address", l->host);
        return -1;
    }
    uv_tcp_init(gl_loop(NULL), &l->tcp);
    l->tcp.data = l;
    l->tcp_open = 1;
    if ((r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0)) < 0 ||
        (r = uv_listen((uv_stream_t *)&l->tcp, 511, on_connection)) < 0) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", l->host, l->port, uv_strerror(r));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return -1;
    }
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) == 0)
        l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* Stop taking requests: the socket closes, complete requests nobody took
 * get `status`, half-read ones are dropped; requests being answered go on. */
void srv_listener_close(srv_listener *l, int status)
{
    srv_conn *c, *n;
    if (!l->closed) {
        l->closed = 1;
        if (l->tcp_open && !uv_is_closing((uv_handle_t *)&l->tcp))
            uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    }
    while ((c = l->ready_head) != NULL) {
        if (status) srv_conn_reply(c, status, "the server is shutting down\n");
        else srv_conn_close(c);
        if (l->ready_head == c) srv_ready_remove(c);
    }
    for (c = l->conns; c; c = n) {
        n = c->next;
        if (c->phase == CP_HEAD) srv_conn_close(c);
    }
    gl_waiter_cancel(&l->w_accept);
}

void srv_listener_maybe_free(srv_listener *l)
{
    if (l->lua_alive || l->tcp_open || l->nconns) return;
    srv_listener_unlink(l);
    if (l->tls) SSL_CTX_free(l->tls);
    free(l);
}
