/*
 * bench/sse_replay_server.c — serves one file as the body of an HTTP SSE
 * response, as fast as the kernel moves it (sendfile), to any request.
 *
 *   cc -O2 -o sse_replay_server bench/sse_replay_server.c
 *   sse_replay_server FILE [PORT]      prints http://127.0.0.1:PORT, then serves
 *
 * Every connection gets one response (a forked child: read the request head
 * and its Content-Length body, answer 100-continue if asked, send
 * "200 text/event-stream" with a Content-Length and the file, close). The
 * path, method and headers are ignored, so the same URL works for curl,
 * glrun.http.sse, gemini.rest.stream and the official SDK. Loopback only.
 * It does no per-byte work, so a client's wall time over it is the client's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* the value of header NAME in the request head, or NULL */
static const char *header(const char *head, const char *name) {
    size_t n = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, n) == 0 && l[2 + n] == ':') {
            const char *v = l + 3 + n;
            while (*v == ' ') v++;
            return v;
        }
    }
    return NULL;
}

static void serve(int c, int file, off_t size) {
    char head[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof head - 1) return;
        ssize_t r = read(c, head + len, sizeof head - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        len += (size_t)r;
        head[len] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    *end = 0; /* headers only, for header() */
    const char *cl = header(head, "Content-Length");
    long body = cl ? strtol(cl, NULL, 10) : 0;
    long have = (long)(len - (size_t)(end + 4 - head));
    const char *ex = header(head, "Expect");
    if (ex && strncasecmp(ex, "100-continue", 12) == 0 && have < body)
        if (write_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0) return;
    char sink[65536];
    while (have < body) { /* read the request body fully: no RST on close */
        ssize_t r = read(c, sink, sizeof sink);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        have += r;
    }
    char resp[256];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Content-Length: %lld\r\nConnection: close\r\n\r\n",
                     (long long)size);
    if (write_all(c, resp, (size_t)n) < 0) return;
    off_t off = 0;
    while (off < size) {
        ssize_t s = sendfile(c, file, &off, (size_t)(size - off));
        if (s < 0 && errno == EINTR) continue;
        if (s <= 0) return;
    }
    shutdown(c, SHUT_WR);
    while (read(c, sink, sizeof sink) > 0) {} /* until the client closes */
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [PORT]\n", argv[0]);
        return 2;
    }
    int file = open(argv[1], O_RDONLY);
    struct stat st;
    if (file < 0 || fstat(file, &st) < 0) {
        perror(argv[1]);
        return 1;
    }
    signal(SIGCHLD, SIG_IGN); /* no zombies */
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(argc > 2 ? atoi(argv[2]) : 0)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0 ||
        getsockname(s, (struct sockaddr *)&a, &al) < 0) {
        perror("listen");
        return 1;
    }
    printf("http://127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            return 1;
        }
        pid_t p = fork();
        if (p == 0) {
            close(s);
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            serve(c, file, st.st_size);
            _exit(0);
        }
        close(c);
    }
}
