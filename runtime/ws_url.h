/*
 * ws_url.h — URL splitting and proxy selection for the WebSocket client
 * (pure C, no I/O, no Lua), kept apart from ws.c so it can be unit-tested.
 */
#ifndef GL_WS_URL_H
#define GL_WS_URL_H

#include <stddef.h>

typedef struct ws_url {
    int tls;            /* wss:// */
    int port;
    char host[256];     /* without brackets for IPv6 literals */
    char hostport[300]; /* what goes in the Host header */
    char *path;         /* malloc'd, path + query, at least "/" */
} ws_url;

/* Parse ws://host[:port]/path?query or wss://...; returns 0 or -1 with a
 * one-line reason in err. Free with ws_url_free. */
int ws_url_parse(const char *url, ws_url *u, char *err, size_t errlen);
void ws_url_free(ws_url *u);

/* Does NO_PROXY-style list `list` (comma or space separated; "*" = all;
 * entries match the host exactly or as a domain suffix, a leading dot is
 * ignored; IPv4 CIDR "10.0.0.0/8" is understood) cover host? */
int ws_no_proxy_match(const char *list, const char *host);

/* Pick the proxy for a connection like curl does: explicit (may be NULL =
 * use the environment; "" = no proxy) else https_proxy/HTTPS_PROXY for TLS,
 * http_proxy/HTTP_PROXY otherwise, then all_proxy/ALL_PROXY; NO_PROXY /
 * no_proxy excludes hosts. On success writes "[user:pass@]host:port" to out
 * (empty when no proxy applies) and returns 0; returns -1 with err for an
 * unsupported proxy URL (e.g. https:// or socks). */
int ws_proxy_select(int tls, const char *host, const char *explicit_proxy,
                    char *out, size_t outlen, char *err, size_t errlen);

#endif
