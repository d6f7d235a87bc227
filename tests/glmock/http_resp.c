/* HTTP/1.1 response writers: whole responses with Content-Length, and
 * chunked responses whose chunks go through the paced output queue. */
#include "glmock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *http_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 402: return "Payment Required";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* The Date header (RFC 9110 IMF-fixdate), as every Google front end sends
 * it; --date-offset skews it to play a server whose clock disagrees. */
static void date_header(buf_t *b)
{
    char d[64];
    struct tm tm;
    time_t t = time(NULL) + (time_t)g_opt.date_offset;
    gmtime_r(&t, &tm);
    strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    buf_addf(b, "Date: %s\r\n", d);
}

static void common_headers(buf_t *b, req_t *r)
{
    date_header(b);
    buf_adds(b, "Server: glmock\r\nX-Content-Type-Options: nosniff\r\nVary: Origin\r\nVary: X-Origin\r\nVary: Referer\r\n");
    buf_adds(b, r->keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
}

/* A complete response. Synchronous: the connection is free for the next
 * request as soon as this returns (or is closed when not keep-alive). */
void http_respond(conn_t *c, req_t *r, int status, const char *ctype,
                  const char *body, size_t blen, const char *extra)
{
    buf_t b = {0};
    buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
             status, http_reason(status), ctype, blen);
    common_headers(&b, r);
    if (extra) buf_adds(&b, extra);
    buf_adds(&b, "\r\n");
    if (r->method != HTTP_HEAD) buf_add(&b, body, blen);
    conn_write_owned(c, b.p, b.len);
    c->busy = false;
    if (!r->keep_alive) conn_shutdown(c);
}

void http_respond_json(conn_t *c, req_t *r, int status, json_t *j, const char *extra)
{
    char *s = json_pretty(j);
    /* The service's pretty JSON has no trailing newline. */
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') s[--n] = 0;
    http_respond(c, r, status, "application/json; charset=UTF-8", s, n, extra);
    free(s);
}

void http_begin_chunked(conn_t *c, req_t *r, int status, const char *ctype, const char *extra)
{
    buf_t b = {0};
    buf_addf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n",
             status, http_reason(status), ctype);
    if (!strncmp(ctype, "text/event-stream", 17)) buf_adds(&b, "Content-Disposition: attachment\r\n");
    common_headers(&b, r);
    if (extra) buf_adds(&b, extra);
    buf_adds(&b, "\r\n");
    oq_push(c, IT_DATA, b.p, b.len, 0);
    buf_free(&b);
}

void chunk_item(conn_t *c, const char *p, size_t n, unsigned delay_ms)
{
    if (!n) return;
    buf_t b = {0};
    buf_addf(&b, "%zx\r\n", n);
    buf_add(&b, p, n);
    buf_adds(&b, "\r\n");
    oq_push(c, IT_DATA, b.p, b.len, delay_ms);
    buf_free(&b);
}

void chunk_end_item(conn_t *c, req_t *r)
{
    oq_push(c, IT_DATA, "0\r\n\r\n", 5, 0);
    oq_push(c, r->keep_alive ? IT_END : IT_END_CLOSE, NULL, 0, 0);
}
