/*
 * test_ws_url.c — unit tests for runtime/ws_url.c: URL splitting and the
 * curl-compatible proxy choice (environment, NO_PROXY) of the ws client.
 */
#include "unit.h"
#include "../../runtime/ws_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (strcmp(a_, b_)) { snprintf(g_why, sizeof g_why, "%s:%d: %s is \"%s\", expected \"%s\"", \
        __FILE__, __LINE__, #a, a_, b_); return; } } while (0)

static void clear_proxy_env(void)
{
    const char *vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                           "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", NULL };
    for (int i = 0; vars[i]; i++) unsetenv(vars[i]);
}

static void test_parse_gemini_live_url(void)
{
    ws_url u;
    char err[128];
    CHECK(ws_url_parse("wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=K",
                       &u, err, sizeof err) == 0);
    CHECK(u.tls == 1);
    CHECK(u.port == 443);
    CHECK_STR(u.host, "generativelanguage.googleapis.com");
    CHECK_STR(u.hostport, "generativelanguage.googleapis.com");
    CHECK_STR(u.path, "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=K");
    ws_url_free(&u);
}

static void test_parse_port_and_defaults(void)
{
    ws_url u;
    char err[128];
    CHECK(ws_url_parse("ws://127.0.0.1:8080", &u, err, sizeof err) == 0);
    CHECK(u.tls == 0 && u.port == 8080);
    CHECK_STR(u.hostport, "127.0.0.1:8080");
    CHECK_STR(u.path, "/");
    ws_url_free(&u);
    CHECK(ws_url_parse("ws://h?x=1#frag", &u, err, sizeof err) == 0);
    CHECK(u.port == 80);
    CHECK_STR(u.path, "/?x=1");
    ws_url_free(&u);
    CHECK(ws_url_parse("WSS://H.example:9443//ws/x", &u, err, sizeof err) == 0);
    CHECK(u.tls == 1 && u.port == 9443);
    CHECK_STR(u.path, "//ws/x");
    ws_url_free(&u);
}

static void test_parse_ipv6(void)
{
    ws_url u;
    char err[128];
    CHECK(ws_url_parse("ws://[::1]:9000/p", &u, err, sizeof err) == 0);
    CHECK_STR(u.host, "::1");
    CHECK_STR(u.hostport, "[::1]:9000");
    CHECK(u.port == 9000);
    ws_url_free(&u);
}

static void test_parse_rejects(void)
{
    ws_url u;
    char err[128];
    const char *bad[] = { "http://h/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:99999/",
                          "ws://h:12x/", "ws://user:pw@h/", "ws://[::1/", "h/x", NULL };
    for (int i = 0; bad[i]; i++) {
        err[0] = 0;
        if (ws_url_parse(bad[i], &u, err, sizeof err) == 0) {
            ws_url_free(&u);
            snprintf(g_why, sizeof g_why, "accepted bad URL %s", bad[i]);
            return;
        }
        CHECK(err[0] != 0);
    }
}

static void test_parse_credentials(void)
{
    ws_url u;
    char err[128];
    const char *creds[] = { "ws://user:pw@h/", "wss://alice:s3cret@127.0.0.1:8443/ws?x=1",
                            "ws://a@b:80", "ws://u:p@[::1]:9/x", NULL };
    for (int i = 0; creds[i]; i++) {
        err[0] = 0;
        if (ws_url_parse(creds[i], &u, err, sizeof err) == 0) {
            ws_url_free(&u);
            snprintf(g_why, sizeof g_why, "accepted credentials in %s", creds[i]);
            return;
        }
        CHECK_STR(err, "credentials in a ws URL are not supported");
    }
    /* an @ after the host is part of the path or query */
    CHECK(ws_url_parse("ws://h:81/p@q?x=a@b", &u, err, sizeof err) == 0);
    CHECK_STR(u.host, "h");
    CHECK(u.port == 81);
    CHECK_STR(u.path, "/p@q?x=a@b");
    ws_url_free(&u);
}

static void test_no_proxy_match(void)
{
    CHECK(ws_no_proxy_match("*", "anything"));
    CHECK(ws_no_proxy_match("localhost,127.0.0.1", "127.0.0.1"));
    CHECK(ws_no_proxy_match("example.com", "example.com"));
    CHECK(ws_no_proxy_match("example.com", "api.example.com"));
    CHECK(ws_no_proxy_match(".example.com", "api.example.com"));
    CHECK(ws_no_proxy_match(" a.b , googleapis.com ", "generativelanguage.googleapis.com"));
    CHECK(!ws_no_proxy_match("example.com", "badexample.com"));
    CHECK(!ws_no_proxy_match("api.example.com", "example.com"));
    CHECK(ws_no_proxy_match("10.0.0.0/8", "10.1.2.3"));
    CHECK(!ws_no_proxy_match("10.0.0.0/8", "11.1.2.3"));
    CHECK(!ws_no_proxy_match("", "h"));
    CHECK(!ws_no_proxy_match(NULL, "h"));
}

static void test_proxy_from_env(void)
{
    char out[300], err[128];
    clear_proxy_env();
    CHECK(ws_proxy_select(1, "h.example", NULL, out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "");
    setenv("HTTPS_PROXY", "http://proxy.corp:3128/", 1);
    setenv("http_proxy", "http://plain:8080", 1);
    CHECK(ws_proxy_select(1, "h.example", NULL, out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "proxy.corp:3128");
    CHECK(ws_proxy_select(0, "h.example", NULL, out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "plain:8080");
    setenv("NO_PROXY", "example", 1);
    CHECK(ws_proxy_select(1, "h.example", NULL, out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "");
    /* an explicit proxy ignores NO_PROXY; "" means none */
    CHECK(ws_proxy_select(1, "h.example", "http://u:p@px:1", out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "u:p@px:1");
    CHECK(ws_proxy_select(1, "other.host", "", out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "");
    /* curl's default port, and no TLS-to-proxy */
    CHECK(ws_proxy_select(1, "x", "proxy.corp", out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "proxy.corp:1080");
    CHECK(ws_proxy_select(1, "x", "https://proxy.corp:443", out, sizeof out, err, sizeof err) == -1);
    CHECK(ws_proxy_select(1, "x", "socks5://p:1", out, sizeof out, err, sizeof err) == -1);
    clear_proxy_env();
    setenv("ALL_PROXY", "http://all:9", 1);
    CHECK(ws_proxy_select(0, "x", NULL, out, sizeof out, err, sizeof err) == 0);
    CHECK_STR(out, "all:9");
    clear_proxy_env();
}

int main(void)
{
    static const unit_test tests[] = {
        { "parse_gemini_live_url", test_parse_gemini_live_url },
        { "parse_port_and_defaults", test_parse_port_and_defaults },
        { "parse_ipv6", test_parse_ipv6 },
        { "parse_rejects", test_parse_rejects },
        { "parse_credentials", test_parse_credentials },
        { "no_proxy_match", test_no_proxy_match },
        { "proxy_from_env", test_proxy_from_env },
    };
    int rc = unit_run(tests, sizeof tests / sizeof tests[0], NULL, NULL);
    return rc;
}
