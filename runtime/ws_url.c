/*
 * ws_url.c — URL splitting and curl-compatible proxy selection for ws.c.
 */
#include "ws_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

int ws_url_parse(const char *url, ws_url *u, char *err, size_t errlen)
{
    const char *p, *hs, *he, *ps;
    size_t n;

    memset(u, 0, sizeof *u);
    if (!strncasecmp(url, "wss://", 6)) { u->tls = 1; p = url + 6; }
    else if (!strncasecmp(url, "ws://", 5)) { p = url + 5; }
    else { snprintf(err, errlen, "URL must start with ws:// or wss://"); return -1; }
    u->port = u->tls ? 443 : 80;

    /* user:password@ before the host: said as such (never echoed), not
     * mistaken for a bad port */
    n = strcspn(p, "/?#");
    if (memchr(p, '@', n)) { snprintf(err, errlen, "credentials in a ws URL are not supported"); return -1; }

    hs = p;
    if (*p == '[') {                       /* IPv6 literal */
        he = strchr(p, ']');
        if (!he) { snprintf(err, errlen, "unterminated IPv6 address in URL"); return -1; }
        hs = p + 1;
        p = he + 1;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#') p++;
        he = p;
    }
    n = (size_t)(he - hs);
    if (n == 0 || n >= sizeof u->host) { snprintf(err, errlen, "bad host in URL"); return -1; }
    memcpy(u->host, hs, n);
    u->host[n] = '\0';
    ps = p;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/' && *end != '?')) {
            snprintf(err, errlen, "bad port in URL"); return -1;
        }
        u->port = (int)port;
        p = end;
    }
    /* Host header: keep the explicit port, bracket IPv6 */
    if (strchr(u->host, ':'))
        snprintf(u->hostport, sizeof u->hostport, "[%s]%.*s", u->host, (int)(p - ps), ps);
    else
        snprintf(u->hostport, sizeof u->hostport, "%s%.*s", u->host, (int)(p - ps), ps);

    if (*p == '/') {
        u->path = strdup(p);
    } else {                               /* "ws://h?x" -> "/?x" */
        u->path = malloc(strlen(p) + 2);
        if (u->path) { u->path[0] = '/'; strcpy(u->path + 1, p); }
    }
    if (!u->path) { snprintf(err, errlen, "out of memory"); return -1; }
    n = strcspn(u->path, "#");              /* a fragment never goes on the wire */
    u->path[n] = '\0';
    return 0;
}

void ws_url_free(ws_url *u)
{
    free(u->path);
    u->path = NULL;
}

static int cidr4_match(const char *entry, size_t len, const char *host)
{
    char buf[64];
    struct in_addr net, h;
    const char *slash;
    long bits;
    uint32_t mask;

    if (len >= sizeof buf) return 0;
    memcpy(buf, entry, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (!slash) return 0;
    bits = strtol(slash + 1, NULL, 10);
    buf[slash - buf] = '\0';
    if (bits < 0 || bits > 32 || inet_pton(AF_INET, buf, &net) != 1 ||
        inet_pton(AF_INET, host, &h) != 1)
        return 0;
    mask = bits ? htonl(0xffffffffu << (32 - bits)) : 0;
    return (net.s_addr & mask) == (h.s_addr & mask);
}

int ws_no_proxy_match(const char *list, const char *host)
{
    size_t hl = strlen(host);
    const char *p = list;

    if (!list) return 0;
    while (*p) {
        const char *e;
        size_t len;
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        e = p;
        while (*e && *e != ',' && !isspace((unsigned char)*e)) e++;
        len = (size_t)(e - p);
        if (len) {
            if (len == 1 && *p == '*') return 1;
            if (memchr(p, '/', len)) {
                if (cidr4_match(p, len, host)) return 1;
            } else {
                if (*p == '.') { p++; len--; }
                if (len && len <= hl && !strncasecmp(host + hl - len, p, len) &&
                    (len == hl || host[hl - len - 1] == '.'))
                    return 1;
            }
        }
        p = e;
    }
    return 0;
}

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v && *v) return v;
    v = getenv(b);
    return (v && *v) ? v : NULL;
}

int ws_proxy_select(int tls, const char *host, const char *explicit_proxy,
                    char *out, size_t outlen, char *err, size_t errlen)
{
    const char *pr = explicit_proxy, *s, *e;
    size_t n;

    out[0] = '\0';
    if (!pr) {
        if (ws_no_proxy_match(env2("no_proxy", "NO_PROXY"), host)) return 0;
        pr = tls ? env2("https_proxy", "HTTPS_PROXY") : env2("http_proxy", "HTTP_PROXY");
        if (!pr) pr = env2("all_proxy", "ALL_PROXY");
        if (!pr) return 0;
    }
    if (!*pr) return 0;
    s = pr;
    if (!strncasecmp(s, "http://", 7)) s += 7;
    else if (strstr(s, "://")) {
        snprintf(err, errlen, "unsupported proxy scheme in '%.*s' (only http:// proxies work for WebSocket)",
                 (int)(strstr(s, "://") - s + 3), s);
        return -1;
    }
    e = s + strcspn(s, "/?#");
    n = (size_t)(e - s);
    if (n == 0 || n + 6 >= outlen) { snprintf(err, errlen, "bad proxy address"); return -1; }
    memcpy(out, s, n);
    out[n] = '\0';
    {   /* curl's default proxy port is 1080 */
        const char *hostpart = strrchr(out, '@');
        hostpart = hostpart ? hostpart + 1 : out;
        if (*hostpart == '[') hostpart = strchr(hostpart, ']');
        if (!hostpart || !strchr(hostpart, ':'))
            strcat(out, ":1080");
    }
    return 0;
}
