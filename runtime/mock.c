/*
 * mock.c — `glrun --mock`: start glmock (the offline Gemini) on a free
 * loopback port for this run. glmock is looked up next to the glrun
 * executable, then as $GLRUN_GLMOCK, then on PATH. It exits when its stdin
 * (a pipe from us) closes, so it never outlives this process.
 */
#include "gl.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uv_process_t proc;
static uv_pipe_t in_pipe, out_pipe;
static int started;
static char line[512];
static size_t line_len;
static int got_line, exited;
static uv_timer_t timer;
static int timed_out;

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
    (void)h; (void)sz;
    buf->base = line + line_len;
    buf->len = sizeof line - 1 - line_len;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    if (n < 0) { got_line = -1; uv_read_stop(s); return; }
    line_len += (size_t)n;
    line[line_len] = 0;
    if (strchr(line, '\n') || line_len >= sizeof line - 1) { got_line = 1; uv_read_stop(s); }
}

static void exit_cb(uv_process_t *p, int64_t status, int sig) {
    (void)p;
    exited = 1;
    if (!got_line) got_line = -1;
    if (status || sig) gl_log(GL_LOG_WARN, "mock", "glmock exited (status %d, signal %d)", (int)status, sig);
}

static void timer_cb(uv_timer_t *t) { (void)t; timed_out = 1; }

static int find_glmock(char *out, size_t len) {
    char self[PATH_MAX - 16]; /* room for "/glmock" in out */
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, len, "%s/glmock", self);
            if (access(out, X_OK) == 0) return 0;
        }
    }
    const char *env = getenv("GLRUN_GLMOCK");
    if (env && access(env, X_OK) == 0) { snprintf(out, len, "%s", env); return 0; }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t l = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(out, len, "%.*s/glmock", (int)l, path);
        if (access(out, X_OK) == 0) return 0;
        path = colon ? colon + 1 : NULL;
    }
    return -1;
}

int gl_mock_start(uv_loop_t *loop, char *url, size_t urllen) {
    char exe[PATH_MAX];
    if (find_glmock(exe, sizeof exe) != 0) {
        fprintf(stderr, "glrun: --mock: cannot find the glmock program (looked next to glrun, in "
                        "$GLRUN_GLMOCK and on PATH)\n");
        return -1;
    }
    char *args[] = {exe, "--port", "0", "--exit-on-stdin-eof", NULL};
    uv_pipe_init(loop, &in_pipe, 0);
    uv_pipe_init(loop, &out_pipe, 0);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&in_pipe;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&out_pipe;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.file = exe;
    opt.args = args;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    opt.exit_cb = exit_cb;
    /* its own session: a Ctrl-C typed at glrun (an interactive flow traps
     * it to cancel a reply) must not reach glmock through the terminal */
    opt.flags = UV_PROCESS_DETACHED;
    int r = uv_spawn(loop, &proc, &opt);
    if (r != 0) {
        fprintf(stderr, "glrun: --mock: cannot start %s: %s\n", exe, uv_strerror(r));
        uv_close((uv_handle_t *)&in_pipe, NULL);
        uv_close((uv_handle_t *)&out_pipe, NULL);
        uv_close((uv_handle_t *)&proc, NULL);
        return -1;
    }
    started = 1;
    uv_read_start((uv_stream_t *)&out_pipe, alloc_cb, read_cb);
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, timer_cb, 10000, 0);
    while (!got_line && !timed_out) uv_run(loop, UV_RUN_ONCE);
    uv_timer_stop(&timer);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_read_stop((uv_stream_t *)&out_pipe);
    const char *p = strstr(line, "http://");
    if (got_line != 1 || !p) {
        fprintf(stderr, "glrun: --mock: glmock did not report its address%s\n",
                timed_out ? " within 10 s" : "");
        return -1;
    }
    size_t l = strcspn(p, "\r\n ");
    snprintf(url, urllen, "%.*s", (int)l, p);
    /* glmock must not keep the loop (and so the process) alive */
    uv_unref((uv_handle_t *)&proc);
    uv_unref((uv_handle_t *)&in_pipe);
    uv_unref((uv_handle_t *)&out_pipe);
    return 0;
}

void gl_mock_stop(void) {
    if (!started) return;
    started = 0;
    if (!exited) uv_process_kill(&proc, SIGTERM);
    uv_close((uv_handle_t *)&in_pipe, NULL); /* EOF on glmock's stdin */
    uv_close((uv_handle_t *)&out_pipe, NULL);
    uv_close((uv_handle_t *)&proc, NULL);
}
