/* glmock entry point: options, the startup line, signals, stdin watch. */
#include "glmock.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

options_t g_opt = {.host = "127.0.0.1"};
uv_loop_t *g_loop;

static uv_signal_t g_sigint, g_sigterm;
static union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
    uv_tty_t tty;
} g_stdin;
static uv_timer_t g_idle;
static bool g_stdin_open;

void logf_(const char *fmt, ...)
{
    char ts[32];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%H:%M:%S", &tm);
    fprintf(stderr, "glmock %s.%03ld ", ts, now.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fputs("usage: glmock [--port N] [--host 127.0.0.1] [--text-frames] [--lifetime SECS]\n"
          "              [--chunk-delay-ms N] [--scenario FILE] [--exit-on-stdin-eof] [--verbose] [--help]\n"
          "              [--oauth-public-key [KID=]PEM]... [--token-lifetime SECS]\n"
          "              [--date-offset SECS]\n"
          "Offline fake of the Gemini API (REST, SSE, Live WebSocket) on one loopback port.\n"
          "Prints \"glmock listening on http://HOST:PORT\" once ready. See tests/glmock/README.md.\n", f);
}

static void shutdown_all(void)
{
    server_stop();
    if (!uv_is_closing((uv_handle_t *)&g_sigint)) uv_close((uv_handle_t *)&g_sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&g_sigterm)) uv_close((uv_handle_t *)&g_sigterm, NULL);
    if (g_stdin_open) {
        g_stdin_open = false;
        uv_close(&g_stdin.handle, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&g_idle)) uv_close((uv_handle_t *)&g_idle, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    LOG("signal %d: shutting down", signum);
    shutdown_all();
}

static void stdin_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char scratch[4096];
    (void)h;
    (void)sz;
    b->base = scratch;
    b->len = sizeof scratch;
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)s;
    (void)b;
    if (n < 0) {
        LOG("stdin closed: shutting down");
        shutdown_all();
    }
}

static bool is_loopback(const char *h)
{
    return !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcmp(h, "localhost");
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"text-frames", no_argument, NULL, 't'},
        {"lifetime", required_argument, NULL, 'l'},
        {"chunk-delay-ms", required_argument, NULL, 'd'},
        {"verbose", no_argument, NULL, 'v'},
        {"exit-on-stdin-eof", no_argument, NULL, 'e'},
        {"scenario", required_argument, NULL, 's'},
        {"oauth-public-key", required_argument, NULL, 'K'},
        {"token-lifetime", required_argument, NULL, 'T'},
        {"date-offset", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    const char *scenario_file = NULL;
    while ((ch = getopt_long(argc, argv, "p:H:tl:d:ves:K:T:D:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'p': g_opt.port = atoi(optarg); break;
        case 'H': g_opt.host = optarg; break;
        case 't': g_opt.text_frames = true; break;
        case 'l': g_opt.lifetime = atof(optarg); break;
        case 'd': g_opt.chunk_delay_ms = (unsigned)atoi(optarg); break;
        case 'v': g_opt.verbose = true; break;
        case 'e': g_opt.exit_on_stdin_eof = true; break;
        case 's': scenario_file = optarg; break;
        case 'K': if (oauth_add_public_key(optarg) != 0) return 2; break;
        case 'T': oauth_set_token_lifetime(atof(optarg)); break;
        case 'D': g_opt.date_offset = atof(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || g_opt.port < 0 || g_opt.port > 65535) { usage(stderr); return 2; }
    if (!strcmp(g_opt.host, "localhost")) g_opt.host = "127.0.0.1";
    if (!is_loopback(g_opt.host)) {
        fprintf(stderr, "glmock: refusing to listen on non-loopback host %s\n", g_opt.host);
        return 2;
    }

    if (scenario_file) {
        char err[700];
        int n = scen_load_file(scenario_file, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "glmock: --scenario %s\n", err);
            return 2;
        }
        LOG("scenario: %d rule(s) loaded from %s", n, scenario_file);
    }

    /* A client that resets mid-write must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    g_loop = uv_default_loop();
    int port = 0;
    int rc = server_start(g_opt.host, g_opt.port, &port);
    if (rc < 0) {
        fprintf(stderr, "glmock: cannot listen on %s:%d: %s\n", g_opt.host, g_opt.port, uv_strerror(rc));
        return 1;
    }
    uv_signal_init(g_loop, &g_sigint);
    uv_signal_init(g_loop, &g_sigterm);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    uv_timer_init(g_loop, &g_idle);
    if (g_opt.exit_on_stdin_eof) {
        /* Only a pipe, socket or terminal can signal that the parent is gone;
         * libuv cannot poll regular files or /dev/null. */
        uv_handle_type t = uv_guess_handle(0);
        int rc2 = -1;
        if (t == UV_NAMED_PIPE) {
            rc2 = uv_pipe_init(g_loop, &g_stdin.pipe, 0);
            if (rc2 == 0 && (rc2 = uv_pipe_open(&g_stdin.pipe, 0)) != 0) uv_close(&g_stdin.handle, NULL);
        } else if (t == UV_TCP) {
            rc2 = uv_tcp_init(g_loop, &g_stdin.tcp);
            if (rc2 == 0 && (rc2 = uv_tcp_open(&g_stdin.tcp, 0)) != 0) uv_close(&g_stdin.handle, NULL);
        } else if (t == UV_TTY) {
            rc2 = uv_tty_init(g_loop, &g_stdin.tty, 0, 1);
        }
        if (rc2 == 0) {
            g_stdin_open = true;
            uv_read_start(&g_stdin.stream, stdin_alloc, on_stdin);
        } else {
            fprintf(stderr, "glmock: --exit-on-stdin-eof: stdin is not a pipe, socket or terminal; ignored\n");
        }
    }
    if (strchr(g_opt.host, ':')) printf("glmock listening on http://[%s]:%d\n", g_opt.host, port);
    else printf("glmock listening on http://%s:%d\n", g_opt.host, port);
    fflush(stdout);

    uv_run(g_loop, UV_RUN_DEFAULT);
    live_global_free();
    scen_free();
    uv_loop_close(g_loop);
    return 0;
}
